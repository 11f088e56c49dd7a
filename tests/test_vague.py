"""The vague-question guard: Vietnamese fixtures (with and without diacritics), no false
alarms on real questions, and the clarification text (pure)."""

from __future__ import annotations

import json
import unicodedata

import pytest

from qa.vague import clarification, is_vague, topic_words
from tests.shared import shared_file

VAGUE = ["Kết quả thế nào?", "Thế nào?", "Bao nhiêu?", "Ai?", "Tình hình ra sao?",
         "Kết quả ra sao?", "Đạt bao nhiêu phần trăm?", "Năm nào?", "Ở đâu?", "Khi nào?",
         "Cho biết thông tin?", "Tỷ lệ là bao nhiêu?",
         "Ket qua the nao?", "Bao nhieu?", "Tinh hinh ra sao?", "ai?"]
NOT_VAGUE = ["Có bao nhiêu xã đạt chuẩn nông thôn mới?", "Ai chủ trì hội nghị?",
             "Năm 2021 thế nào?", "Nam là ai?", "Kết quả thu ngân sách thế nào?",
             "Diện tích cây keo là bao nhiêu?", "Ai là Bí thư?", "Kết quả ở Cao Lộc thế nào?",
             "Co bao nhieu xa dat chuan nong thon moi?", "Dien tich keo bao nhieu?"]


@pytest.mark.parametrize("question", VAGUE)
def test_vague_questions(question):
    assert is_vague(question)
    assert is_vague(unicodedata.normalize("NFD", question))


@pytest.mark.parametrize("question", NOT_VAGUE)
def test_questions_with_a_topic(question):
    assert not is_vague(question), topic_words(question)


def test_clarification_names_what_was_asked():
    assert clarification("Kết quả thế nào?") == (
        "Câu hỏi chưa rõ: bạn muốn hỏi kết quả của việc gì, ở đâu, năm nào? Hãy hỏi cụ thể "
        "hơn, ví dụ: \u201cKết quả xây dựng nông thôn mới của huyện Cao Lộc năm 2021 "
        "thế nào?\u201d")
    assert clarification("Tinh hinh ra sao?").startswith("Câu hỏi chưa rõ: bạn muốn hỏi tình hình")
    assert clarification("Ai?").startswith("Câu hỏi chưa rõ: bạn muốn hỏi về việc gì")


def _jsonl(path) -> list[str]:
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def test_no_real_question_is_flagged():
    """Every seeds question and every first question of a ViCoQA dialogue names its topic."""
    from pathlib import Path

    seeds = _jsonl(shared_file("eval/seeds_qa.jsonl"))
    seeds += _jsonl(Path(__file__).parent / "data" / "seeds_heldout.jsonl")
    stories = json.loads(shared_file("eval/vicoqa_dev.json").read_text(encoding="utf-8"))
    first = [s["questions"][0]["input_text"] for s in stories["data"]]
    assert len(seeds) == 75 and len(first) == 300
    assert [q for q in seeds + first if is_vague(q)] == []
