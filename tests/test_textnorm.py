"""Tests for index.textnorm: normalization, folding, tokens."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.text import collapse_spaces, fold, normalize, token_spans, tokens

VI_LETTERS = "aàáảãạăằắẳẵặâầấẩẫậeèéẻẽẹêềếểễệiìíỉĩịoòóỏõọôồốổỗộơờớởỡợuùúủũụưừứửữựyỳýỷỹỵđ"
vi_text = st.text(alphabet=VI_LETTERS + VI_LETTERS.upper() + "bcdghklmnpqrstvx ,.0123456789\n")


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Tỉnh uỷ", "Tỉnh ủy"),
        ("khoá XXV", "khóa XXV"),
        ("hoà bình", "hòa bình"),
        ("thuỷ lợi", "thủy lợi"),
        ("khoẻ mạnh", "khỏe mạnh"),
        ("TỈNH UỶ", "TỈNH ỦY"),
        ("Thuý", "Thúy"),
        ("qúa", "quá"),
        ("gìa", "già"),
    ],
)
def test_old_and_new_tone_placement_match(old: str, new: str) -> None:
    assert normalize(old) == new
    assert normalize(new) == new
    assert normalize(nfd(old)) == new


@pytest.mark.parametrize(
    "word",
    ["hoàng", "người", "quý", "giữa", "gì", "gìn", "khuỷu", "ngoài", "huỳnh", "mùa", "thuở",
     "rượu", "quốc", "giường", "chịu", "Huế", "ở", "ý"],
)  # fmt: skip
def test_correct_words_are_unchanged(word: str) -> None:
    assert normalize(word) == word


@pytest.mark.parametrize("word", ["Covid-19", "Website", "PDF", "F0", "Skip", "TT&VH", "ẢNH"])
def test_non_syllables_untouched(word: str) -> None:
    assert normalize(word) == word


def test_nfd_input_becomes_nfc() -> None:
    text = "Đồng chí Nguyễn Văn Ủy ở Hoà Bình"
    out = normalize(nfd(text))
    assert unicodedata.is_normalized("NFC", out)
    assert out == "Đồng chí Nguyễn Văn Ủy ở Hòa Bình"


@given(vi_text)
def test_normalize_keeps_nfc_length_and_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert len(once) == len(unicodedata.normalize("NFC", text))
    assert normalize(once) == once


@given(vi_text)
def test_fold_keeps_length(text: str) -> None:
    nfc = unicodedata.normalize("NFC", text)
    folded = fold(nfc)
    assert len(folded) == len(nfc)
    assert folded.isascii()


def test_fold_values() -> None:
    assert fold("Đồng chí Nguyễn Văn Ủy, ở đây") == "Dong chi Nguyen Van Uy, o day"
    assert fold("ĐẮK LẮK") == "DAK LAK"
    assert fold(nfd("Tỉnh ủy")) == "Tinh uy"


def test_tokens_keep_one_letter_words_and_numbers() -> None:
    toks = tokens("Ở xã ý, đạt 3.945,25 ha; 101,63% và 19/21 chỉ tiêu, 1.213.353 người, năm 2020.")
    assert toks == [
        "ở", "xã", "ý", "đạt", "3.945,25", "ha", "101,63", "và", "19/21", "chỉ", "tiêu",
        "1.213.353", "người", "năm", "2020",
    ]  # fmt: skip


def test_tokens_normalize_nfd_and_old_tones() -> None:
    assert tokens(nfd("Tỉnh uỷ")) == tokens("Tỉnh ủy") == ["tỉnh", "ủy"]
    assert tokens("Đồng Nai", folded=True) == ["dong", "nai"]


def test_token_spans_point_into_text() -> None:
    text = "Thu đạt 452,2 tỷ đồng ở Cao Lộc."
    spans = token_spans(text)
    assert ("452,2", 8, 13) in spans
    for tok, start, end in spans:
        assert text[start:end].lower() == tok


def test_collapse_spaces() -> None:
    assert collapse_spaces("  Thứ sáu,\u00a0 24/09/2021\t ") == "Thứ sáu, 24/09/2021"
