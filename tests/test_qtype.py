"""Question typing: Vietnamese with/without diacritics (any Unicode form) and English."""

from __future__ import annotations

import unicodedata

import pytest

from qa.qtype import classify


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("Tổng thu ngân sách năm 2020 đạt bao nhiêu?", "number"),
        ("Xã có mấy thôn?", "number"),
        ("Ai chủ trì hội nghị?", "person"),
        ("Hội nghị diễn ra khi nào?", "date"),
        ("Hội nghị được tổ chức ở đâu?", "place"),
        ("Xã nào đạt chuẩn nông thôn mới?", "place"),
        ("Những xã nào đạt chuẩn nông thôn mới?", "list"),
        ("Nông thôn mới là gì?", "definition"),
        ("Vì sao thu ngân sách giảm?", "reason"),
        ("Tại sao thu ngân sách giảm?", "reason"),
        ("Công tác giảm nghèo được triển khai như thế nào?", "manner"),
        ("Dự án kéo dài bao lâu?", "duration"),
        ("How many households are poor?", "number"),
        ("Who chaired the meeting?", "person"),
        ("When was the province founded?", "date"),
        ("Where was the meeting held?", "place"),
    ],
)
def test_question_types(question: str, qtype: str) -> None:
    assert classify(question).qtype == qtype


def test_without_diacritics_matches_with_diacritics() -> None:
    pairs = [("Ai chu tri hoi nghi?", "Ai chủ trì hội nghị?"),
             ("Hoi nghi to chuc o dau?", "Hội nghị tổ chức ở đâu?"),
             ("Tinh thanh lap khi nao?", "Tỉnh thành lập khi nào?"),
             ("Ket nap bao nhieu dang vien?", "Kết nạp bao nhiêu đảng viên?")]
    for plain, marked in pairs:
        assert classify(plain) == classify(marked), plain


def test_nfd_question_is_normalised() -> None:
    q = "Tỷ lệ hộ nghèo còn bao nhiêu?"
    info = classify(unicodedata.normalize("NFD", q))
    assert info == classify(q)
    assert info.qtype == "number" and info.percent


def test_head_noun_after_bao_nhieu() -> None:
    assert classify("Đã kết nạp bao nhiêu đảng viên mới?").head == ("dang", "vien")
    assert classify("Có bao nhiêu hợp tác xã?").head == ("hop", "tac", "xa")
    assert classify("Sản lượng đạt bao nhiêu tấn trong năm 2020?").head == ("tan",)
    assert classify("Thu ngân sách đạt bao nhiêu?").head == ()


def test_date_grain_and_flags() -> None:
    assert classify("Tỉnh được thành lập vào ngày nào?").grain == "day"
    assert classify("Tỉnh được thành lập năm nào?").grain == "year"
    assert classify("Tổng thu ngân sách đạt bao nhiêu?").money
    assert classify("What was the poverty rate in Ba Che?").percent


def test_mieng_words_do_not_fool_place_rule() -> None:
    # "9 tháng đầu năm" folds to "dau" but is not "đâu"
    assert classify("Trong 9 thang dau nam dat bao nhieu?").qtype == "number"


def test_english_forms_and_glossary_terms() -> None:
    from qa.qtype import english_terms

    assert classify("What was the total number of party members in Ba Che?").qtype == "number"
    assert classify("What was the area of forest planted?").qtype == "number"
    assert classify("How much money did the district spend?").money
    assert classify("Which communes reached the new rural standard?").qtype == "list"
    terms = english_terms("What was the poverty rate in Ba Che district?")
    assert {"tỷ", "lệ", "hộ", "nghèo", "huyện", "ba", "che"} <= set(terms)
    assert "what" not in terms and "the" not in terms


def test_ordinal_questions() -> None:
    info = classify("Hội nghị là hội nghị lần thứ mấy?")
    assert info.qtype == "number" and info.ordinal
    assert not classify("Huyện có bao nhiêu xã?").ordinal


def test_topic_names_with_and_without_diacritics() -> None:
    from qa.qtype import topic_names

    assert topic_names("Dân số huyện Cao Lộc là bao nhiêu?") == ("cao loc",)
    assert topic_names("Huyện ủy Cao Lộc làm việc với Tỉnh ủy ngày nào?") == ("cao loc",)
    assert topic_names("dan so huyen cao loc la bao nhieu") == ("cao loc",)
    assert topic_names("What was the poverty rate in Ba Che district?") == ("ba che",)
    assert topic_names("Xã nào đạt chuẩn nông thôn mới?") == ()
