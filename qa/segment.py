"""Offsets-preserving text helpers for the reader: folding, tokens, sentences, paragraphs.

Everything here is pure and keeps character offsets into the text it was given, so spans
found on tokens or sentences can be cited verbatim.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from index import textnorm
from index.sentences import paragraph_spans, split_sentences

_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*(?:/\d+(?:[.,]\d+)*)*%?|\w+", re.UNICODE)
_LINE_BREAK_RE = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_VI_MARKS = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]")


@dataclass(frozen=True)
class Token:
    """A word or number token with offsets into its text; ``norm`` is lower-cased NFC."""

    text: str
    norm: str
    start: int
    end: int


def nfc(text: str) -> str:
    """NFC plus canonical tone placement, exactly as documents are normalised at ingest."""
    return textnorm.normalize(text)


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    """``str.translate`` table folding every precomposed Latin letter as ``textnorm.fold``."""
    chars = [chr(c) for c in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00))]
    return {ord(c): f for c in chars if (f := textnorm.fold(c)) != c}


def fold(text: str) -> str:
    """Lower-case and strip Vietnamese diacritics (``đ`` -> ``d``); length is unchanged.

    Same result as ``textnorm.fold(text.lower())``, through a translation table (fast).
    """
    text = unicodedata.normalize("NFC", text.lower())
    return text.translate(_fold_table())


def has_diacritics(text: str) -> bool:
    """True when ``text`` carries at least one Vietnamese diacritic letter."""
    return bool(_VI_MARKS.search(nfc(text).lower()))


def tokenize(text: str) -> list[Token]:
    """Word and number tokens (``24.236``, ``3,5%``, ``19/21`` stay whole) with offsets."""
    return [Token(m.group(), m.group().lower(), m.start(), m.end())
            for m in _TOKEN_RE.finditer(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each trimmed sentence of ``text``; line breaks always split."""
    return split_sentences(text)


def clause_spans(text: str, start: int, end: int, min_chars: int = 120) -> list[tuple[int, int]]:
    """A long sentence ``text[start:end]`` cut at semicolons into trimmed clauses."""
    if end - start <= min_chars:
        return [(start, end)]
    out: list[tuple[int, int]] = []
    # a semicolon inside quotes ("“...; ...”") does not end a clause
    for m in re.finditer(r"(?:“[^”]*”|\"[^\"]*\"|[^;])+;?", text[start:end]):
        a, b = start + m.start(), start + m.end()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def paragraph_breaks(text: str, pos: int) -> int:
    """Paragraph breaks (runs of line breaks) between the start of ``text`` and ``pos``."""
    spans = paragraph_spans(text)
    opened = sum(1 for start, _ in spans if start <= pos)
    starts_inside = bool(spans) and not _LINE_BREAK_RE.search(text[: spans[0][0]])
    return max(0, opened - 1) if starts_inside else opened
