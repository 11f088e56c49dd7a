"""Vietnamese sentence and paragraph spans: abbreviations, numbers, quotes, exact offsets."""

from __future__ import annotations

import unicodedata
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.sentences import is_abbreviation, paragraph_spans, split_sentences


def sentences(text: str) -> list[str]:
    """The sentence strings, checking that every span is trimmed and in order."""
    spans = split_sentences(text)
    for (_, end), (next_start, _) in pairwise(spans):
        assert end <= next_start
    for start, end in spans:
        assert start < end
        assert text[start:end] == text[start:end].strip()
    return [text[start:end] for start, end in spans]


@pytest.mark.parametrize(
    "abbrev",
    ["TP.", "Tp.", "ThS.", "TS.", "PGS.", "GS.", "Th.S", "Th.S.", "BS.", "St.", "PGS.TS."],
)
def test_abbreviations_never_end_a_sentence(abbrev: str) -> None:
    text = f"Ông làm việc với {abbrev} Nguyễn Văn An ở Hà Nội. Sau đó ông về quê."
    assert sentences(text) == [
        f"Ông làm việc với {abbrev} Nguyễn Văn An ở Hà Nội.",
        "Sau đó ông về quê.",
    ]


def test_vv_does_not_end_a_sentence() -> None:
    text = "Trồng lúa, ngô, khoai v.v. Năm 2020 sản lượng tăng 3,5%. Hết."
    assert sentences(text) == [
        "Trồng lúa, ngô, khoai v.v. Năm 2020 sản lượng tăng 3,5%.",
        "Hết.",
    ]


def test_is_abbreviation() -> None:
    assert is_abbreviation("TP")
    assert is_abbreviation("PGS.TS")
    assert is_abbreviation("v.v")
    assert not is_abbreviation("Nội")
    assert not is_abbreviation("2020")


@pytest.mark.parametrize("number", ["3.945,25", "1.213.353", "04/11/1831", "3,5%", "2.351"])
def test_numbers_never_split(number: str) -> None:
    text = f"Giá trị đạt {number} theo báo cáo. Đó là con số {number} đáng chú ý."
    assert sentences(text) == [
        f"Giá trị đạt {number} theo báo cáo.",
        f"Đó là con số {number} đáng chú ý.",
    ]


def test_sentence_may_end_with_a_number_or_date() -> None:
    text = "Ông sinh ngày 04/11/1831. Dân số là 1.213.353. 80/80 chi bộ hoàn thành."
    assert sentences(text) == [
        "Ông sinh ngày 04/11/1831.",
        "Dân số là 1.213.353.",
        "80/80 chi bộ hoàn thành.",
    ]


def test_closing_quotes_and_brackets_stay_with_the_sentence() -> None:
    text = 'Ông nói "Làm ngay." Bà đáp “Đồng ý.” Mọi người (kể cả tôi.) Đều vui! "Vì sao?"'
    assert sentences(text) == [
        'Ông nói "Làm ngay."',
        "Bà đáp “Đồng ý.”",
        "Mọi người (kể cả tôi.)",
        "Đều vui!",
        '"Vì sao?"',
    ]


def test_ellipsis_ends_a_sentence_only_before_uppercase() -> None:
    text = "Tổng trị giá 995 triệu đồng… tăng cường tuyên truyền… Năm sau tốt hơn... Hết?"
    assert sentences(text) == [
        "Tổng trị giá 995 triệu đồng… tăng cường tuyên truyền…",
        "Năm sau tốt hơn...",
        "Hết?",
    ]


def test_no_split_before_lowercase_or_without_space() -> None:
    assert sentences("Ở TP.HCM có mưa. vì vậy ở nhà.") == ["Ở TP.HCM có mưa. vì vậy ở nhà."]


def test_list_markers_initials_and_roman_numerals() -> None:
    text = "1. Tổ chức tốt hội nghị. II. Nội dung chính. Sau Thế Chiến II. Nó được tái lập."
    assert sentences(text) == [
        "1. Tổ chức tốt hội nghị.",
        "II. Nội dung chính.",
        "Sau Thế Chiến II.",
        "Nó được tái lập.",
    ]
    assert sentences("Ông George W. Bush đến nước Ý. Ông ở 30 °C. Trời nóng.") == [
        "Ông George W. Bush đến nước Ý.",
        "Ông ở 30 °C.",
        "Trời nóng.",
    ]


def test_paragraph_break_ends_a_sentence() -> None:
    text = "Tiêu đề không có dấu chấm\n\nĐoạn một ở đây. Câu hai\nDòng đơn\n \n  Cuối  "
    assert sentences(text) == [
        "Tiêu đề không có dấu chấm",
        "Đoạn một ở đây.",
        "Câu hai",
        "Dòng đơn",
        "Cuối",
    ]


def test_start_shifts_offsets_into_the_document() -> None:
    doc = "Mở đầu.\n\nỞ xã Hòa An có 3,5% hộ nghèo. Năm 2023 giảm mạnh."
    start = doc.index("Ở")
    spans = split_sentences(doc[start:], start)
    assert [doc[a:b] for a, b in spans] == ["Ở xã Hòa An có 3,5% hộ nghèo.", "Năm 2023 giảm mạnh."]


def test_nfd_input_keeps_exact_offsets() -> None:
    nfc = "Ủy ban nhân dân TP. Lạng Sơn họp. Đồng chí Hoàng Văn Nghiệm phát biểu."
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    got = sentences(nfd)
    assert [unicodedata.normalize("NFC", s) for s in got] == [
        "Ủy ban nhân dân TP. Lạng Sơn họp.",
        "Đồng chí Hoàng Văn Nghiệm phát biểu.",
    ]


def test_paragraph_spans() -> None:
    text = "  Một\n\n\nHai ba\n \nBốn\nNăm  \n"
    spans = paragraph_spans(text)
    assert [text[a:b] for a, b in spans] == ["Một", "Hai ba", "Bốn", "Năm"]
    assert paragraph_spans("") == []
    assert paragraph_spans(" \n\n \t") == []
    assert split_sentences("  \n ") == []


_ALPHABET = st.sampled_from(list('aở Đ.!?…,"”)(\n3TPS') + ["TP.", "v.v.", " ", "\n\n"])


@settings(max_examples=200, deadline=None)
@given(st.lists(_ALPHABET, max_size=60).map("".join))
def test_spans_partition_non_whitespace(text: str) -> None:
    spans = sentences(text)
    joined = "".join(spans)
    assert "".join(text.split()) == "".join(joined.split())
    paragraphs = paragraph_spans(text)
    for start, end in split_sentences(text):
        assert any(a <= start and end <= b for a, b in paragraphs)
