"""``hoidap chat`` (fed on stdin) and history lines of ``hoidap ask --questions`` (fake
embedder)."""

from __future__ import annotations

import io
import json

import pytest

from hoidap.cli import main
from tests.fakes import HashEmbedder
from tests.test_api import CHI_LANG, DOCS, FOLLOW_UP, QUESTION


@pytest.fixture
def idx(tmp_path, monkeypatch):
    """An index of the API test documents built through the CLI."""
    import index.embedder

    monkeypatch.setattr(index.embedder, "Embedder", lambda config: HashEmbedder())
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    assert main(["index", "build", str(docs), "--index", str(tmp_path / "idx")]) == 0
    return str(tmp_path / "idx")


def chat(capsys, monkeypatch, idx: str, *lines: str) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{line}\n" for line in lines)))
    capsys.readouterr()
    rc = main(["chat", "--index", idx])
    return rc, capsys.readouterr().out


def test_chat_answers_follow_ups_with_the_conversation(capsys, monkeypatch, idx):
    rc, out = chat(capsys, monkeypatch, idx, CHI_LANG, FOLLOW_UP, "/quit", "never asked")
    assert rc == 0 and out.startswith("hoidap chat")
    first, second = out.split("Trả lời: ")[1:3]
    assert first.startswith("13/18") and "chi_lang" in first
    assert second.startswith("2.351 tỷ đồng") and "Nguồn: " in second
    assert out.count("Hiểu câu hỏi là: ") == 1
    assert f"Hiểu câu hỏi là: {FOLLOW_UP} (ngữ cảnh:" in out


def test_chat_clear_forgets_the_conversation(capsys, monkeypatch, idx):
    rc, out = chat(capsys, monkeypatch, idx, CHI_LANG, "/clear", FOLLOW_UP)  # EOF ends it
    assert rc == 0 and "Đã xoá hội thoại." in out and "Hiểu câu hỏi là" not in out
    assert out.split("Trả lời: ")[2].startswith("452,2 tỷ đồng")  # read alone


def test_chat_reports_bad_questions_and_goes_on(capsys, monkeypatch, idx):
    rc, out = chat(capsys, monkeypatch, idx, "x" * 2001, "", QUESTION)
    assert rc == 0 and "lỗi: the question has 2001 characters" in out
    assert "452,2 tỷ đồng" in out


def _ask_lines(capsys, idx: str, tmp_path, *objs: object) -> tuple[int, list[dict], str]:
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs),
                    encoding="utf-8")
    capsys.readouterr()
    rc = main(["ask", "--questions", str(path), "--index", idx, "--json"])
    out, err = capsys.readouterr()
    return rc, [json.loads(line) for line in out.splitlines()], err


def test_questions_file_lines_take_a_history(capsys, idx, tmp_path):
    history = [{"question": CHI_LANG, "answer": "13/18"}]
    rc, rows, _ = _ask_lines(capsys, idx, tmp_path, {"question": FOLLOW_UP},
                             {"question": FOLLOW_UP, "history": history})
    assert rc == 0 and rows[0]["understood"] is None
    assert rows[0]["answers"][0]["text"] == "452,2 tỷ đồng"
    assert rows[1]["understood"].startswith(FOLLOW_UP)
    assert rows[1]["answers"][0]["text"] == "2.351 tỷ đồng"


@pytest.mark.parametrize("history, needle", [
    ({"question": CHI_LANG}, "line 1: history must be a list"),
    ([{"answer": "13/18"}], "line 1: history[0].question must be a non-empty string"),
    ([{"question": CHI_LANG}] * 21, "line 1: history has 21 turns; the limit is 20"),
])
def test_questions_file_rejects_a_bad_history(capsys, idx, tmp_path, history, needle):
    rc, _, err = _ask_lines(capsys, idx, tmp_path, {"question": FOLLOW_UP, "history": history})
    assert rc == 2 and needle in err and "Traceback" not in err
