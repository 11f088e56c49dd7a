"""Pure text helpers shared by ingestion and query time: the one text module.

* :func:`normalize` -- NFC plus one canonical Vietnamese tone-mark placement, so
  ``"Tỉnh uỷ"`` and ``"Tỉnh ủy"``, ``"hoà"`` and ``"hòa"`` become equal. The
  placement is the one most used by today's press and official sites: an open
  ``oa``/``oe``/``uy`` takes the tone on its first letter (``hòa``, ``khỏe``, ``thủy``).
  For NFC input it never changes the length: a tone mark only moves between the
  precomposed vowels of one syllable. Cleaning applies it *before* any offsets
  exist, so offsets always point into normalized text.
* :func:`fold` -- strip diacritics (``đ`` -> ``d``), one character in, one out.
* :func:`fold_lower` -- :func:`fold` of the lower-cased text, through a table (fast; the
  reader's matching form).
* :func:`has_marks` -- any diacritic at all (what :func:`fold` would strip, ``é`` and ``ü``
  too); :func:`has_vietnamese_marks` -- a Vietnamese diacritic letter (``ü`` is not one).
* :func:`tokens` / :func:`token_spans` -- lowercase syllable tokens for BM25 (and the
  restore table) that keep one-letter words (``ở``, ``ý``) and Vietnamese numbers
  (``3.945,25``, ``10/11/2023``).
* :func:`words` -- the conversation's words: like :func:`tokens` but case kept and a
  number keeps a trailing ``%``.
* :func:`tokenize` -- the reader's :class:`Token` objects: like :func:`token_spans` but a
  number keeps a trailing ``%`` (``3,5%``), original case and offsets into the raw text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Combining tone marks: grave, acute, tilde, hook above, dot below.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_VOWELS = frozenset("aăâeêioôơuưy")
_HATTED = frozenset("ăâêôơư")
_ONSETS = (
    "ngh", "ng", "nh", "gh", "gi", "kh", "ch", "ph", "th", "tr", "qu",
    "b", "c", "d", "đ", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "x", "",
)  # fmt: skip
_CODAS = frozenset({"", "c", "ch", "m", "n", "ng", "nh", "p", "t"})
_WORD_RE = re.compile(r"[^\W\d_]+")
_TOKEN_RE = re.compile(r"\d+(?:[.,/]\d+)*|\w+")  # BM25 / restore-table tokens
# reader tokens: a number may end in "%" and a "/" part may itself hold separators
_READER_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*(?:/\d+(?:[.,]\d+)*)*%?|\w+", re.UNICODE)
# conversation words: like the BM25 tokens, but a number may end in "%"
_WORD_TOKEN_RE = re.compile(r"\d+(?:[.,/]\d+)*%?|\w+", re.UNICODE)
_VI_MARKS = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]")


@lru_cache(maxsize=4096)
def _split_tone(ch: str) -> tuple[str, str]:
    """``"ộ"`` -> ``("ô", "\\u0323")``; the tone is ``""`` when there is none."""
    decomposed = unicodedata.normalize("NFD", ch)
    tone = "".join(c for c in decomposed if c in _TONES)
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    return base, tone


def _parse(bases: str) -> tuple[int, int] | None:
    """Nucleus ``(start, end)`` of a lowercase toneless syllable, or None if not Vietnamese."""
    for onset in _ONSETS:
        if not bases.startswith(onset):
            continue
        start = len(onset)
        if onset == "gi" and (start == len(bases) or bases[start] not in _VOWELS):
            start = 1  # "gì", "gìn": the i is the vowel
        end = start
        while end < len(bases) and bases[end] in _VOWELS:
            end += 1
        if start < end <= start + 3 and bases[end:] in _CODAS:
            return start, end
    return None


def _tone_index(bases: str, start: int, end: int) -> int:
    """Index of the vowel that carries the tone, by the modern placement rules."""
    nucleus = bases[start:end]
    hatted = [i for i, c in enumerate(nucleus) if c in _HATTED]
    if hatted:
        return start + hatted[-1]  # "người", "thuế", "rượu"
    if end < len(bases) or len(nucleus) == 1:
        return end - 1  # closed syllable: "hoàng", "huỳnh"
    if len(nucleus) == 3:
        return start + 1  # "ngoài", "khuỷu"
    return start  # "mái", "mùa", "hòa", "khỏe", "thủy"


@lru_cache(maxsize=1 << 16)
def _place_tone(word: str) -> str:
    """Move a misplaced tone mark of one NFC syllable; other words come back unchanged."""
    parts = [_split_tone(c) for c in word]
    toned = [i for i, (_, tone) in enumerate(parts) if tone]
    if len(toned) != 1 or len(parts[toned[0]][1]) != 1:
        return word
    bases = "".join(b for b, _ in parts)
    span = _parse(bases.lower())
    if span is None or len(bases) != len(word):
        return word
    target = _tone_index(bases.lower(), *span)
    if target == toned[0]:
        return word
    chars = list(word)
    chars[toned[0]] = parts[toned[0]][0]
    chars[target] = unicodedata.normalize("NFC", parts[target][0] + parts[toned[0]][1])
    return "".join(chars)


def normalize(text: str) -> str:
    """NFC, then canonical tone placement (``"hoà"`` -> ``"hòa"``), keeping case.

    The result has the same length as ``unicodedata.normalize("NFC", text)``.
    """
    nfc = unicodedata.normalize("NFC", text)
    return _WORD_RE.sub(lambda m: _place_tone(m.group()), nfc)


def _fold_char(ch: str) -> str:
    if ch == "đ":
        return "d"
    if ch == "Đ":
        return "D"
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    return base if len(base) == 1 else ch


def fold(text: str) -> str:
    """Remove diacritics keeping case (``"Đồng"`` -> ``"Dong"``).

    Input is NFC-normalized first, so for NFC input ``len`` is unchanged and
    offsets can be shared between ``text`` and ``fold(text)``.
    """
    return "".join(_fold_char(c) for c in unicodedata.normalize("NFC", text))


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    """``str.translate`` table folding every precomposed Latin letter as :func:`fold`."""
    chars = [chr(c) for c in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00))]
    return {ord(c): f for c in chars if (f := fold(c)) != c}


def fold_lower(text: str) -> str:
    """Lower-case and strip Vietnamese diacritics (``đ`` -> ``d``); length is unchanged.

    Same result as ``fold(text.lower())``, through a translation table (fast).
    """
    text = unicodedata.normalize("NFC", text.lower())
    return text.translate(_fold_table())


def has_marks(text: str) -> bool:
    """Whether ``text`` carries any diacritic :func:`fold` would strip (or đ)."""
    return fold(text) != text


def has_vietnamese_marks(text: str) -> bool:
    """True when ``text`` carries at least one Vietnamese diacritic letter."""
    return bool(_VI_MARKS.search(normalize(text).lower()))


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """``(token, start, end)`` for each word or number of already-normalized ``text``.

    Tokens are lowercased; offsets point into ``text``. Numbers keep their
    Vietnamese separators as one token: ``"3.945,25"``, ``"19/21"``, ``"10/11/2023"``.
    """
    return [(m.group().lower(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]


def tokens(text: str, *, folded: bool = False) -> list[str]:
    """Lowercase BM25 tokens of ``text`` (normalized first); ``folded`` strips diacritics."""
    out = [tok for tok, _, _ in token_spans(normalize(text))]
    return [fold(tok) for tok in out] if folded else out


@dataclass(frozen=True)
class Token:
    """A word or number token with offsets into its text; ``norm`` is lower-cased NFC."""

    text: str
    norm: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Reader tokens (``24.236``, ``3,5%``, ``19/21`` stay whole) with offsets into ``text``."""
    return [Token(m.group(), m.group().lower(), m.start(), m.end())
            for m in _READER_TOKEN_RE.finditer(text)]


def words(text: str) -> list[str]:
    """Words and numbers of ``text`` (normalized first), case kept; a number keeps its
    separators (``10/11/2023``) and a trailing ``%``."""
    return _WORD_TOKEN_RE.findall(normalize(text))


_SPACE_RE = re.compile(r"[^\S\n]+")


def collapse_spaces(line: str) -> str:
    """Turn every run of non-newline whitespace (NBSP, tabs…) into one space and strip."""
    return _SPACE_RE.sub(" ", line).strip()
