"""Put diacritics back on a query typed without them, from the corpus's own spelling.

The embedding model understands "hợp tác xã" far better than "hop tac xa". At build time the
index counts, for every folded syllable and pair of syllables, which accented spelling the
corpus uses most; at query time a diacritic-free query is rewritten pair by pair (falling back
to single syllables). Pure functions over token lists; the table is saved as JSON.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from index.text import fold, token_spans

Table = dict[str, str]

# Question words never appear in reports, so the corpus cannot teach their spelling.
QUESTION_WORDS: Table = {
    "bao nhieu": "bao nhiêu", "bao lau": "bao lâu", "khi nao": "khi nào", "luc nao": "lúc nào",
    "o dau": "ở đâu", "la gi": "là gì", "vi sao": "vì sao", "tai sao": "tại sao",
    "the nao": "thế nào", "nam nao": "năm nào", "ngay nao": "ngày nào",
    "thang nao": "tháng nào", "xa nao": "xã nào", "huyen nao": "huyện nào",
    "tinh nao": "tỉnh nào", "nhung gi": "những gì", "nao": "nào", "gi": "gì",
    "may": "mấy", "ai": "ai", "trong": "trong",
}


def syllable_grams(toks: Sequence[str]) -> list[str]:
    """The syllables ``toks`` and their adjacent pairs ("a b"): what the table counts."""
    return [*toks, *(f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False))]


def grams(text: str) -> list[str]:
    """Lowercase syllables and adjacent syllable pairs of ``text`` (as :func:`build_table`
    counts them)."""
    return syllable_grams([t for t, _, _ in token_spans(text)])


def build_table(texts: Iterable[str], min_pair_count: int | None = None) -> Table:
    """folded syllable (or "a b" pair) -> the corpus's most frequent accented spelling.

    Pairs seen fewer than ``min_pair_count`` times are dropped (default: 1 for small corpora,
    2 above a million syllables, to keep the table small).
    """
    counts: dict[str, Counter[str]] = {}
    seen = 0
    for text in texts:
        toks = [t for t, _, _ in token_spans(text)]
        seen += len(toks)
        for gram in syllable_grams(toks):
            key = fold(gram)
            if key != gram or any(c.isalpha() for c in gram):
                counts.setdefault(key, Counter())[gram] += 1
    if min_pair_count is None:
        min_pair_count = 1 if seen < 1_000_000 else 2
    table: Table = {}
    for key, spellings in counts.items():
        best, n = spellings.most_common(1)[0]
        if best != key and (n >= min_pair_count or " " not in key):
            table[key] = best
    return {**table, **QUESTION_WORDS}


def _case_like(model: str, word: str) -> str:
    if model.isupper() and len(model) > 1:
        return word.upper()
    return word[:1].upper() + word[1:] if model[:1].isupper() else word


def restore(query: str, table: Table) -> str:
    """``query`` with each syllable given the corpus's accented spelling, pairs first."""
    spans = token_spans(query)
    out = list(query)
    i = 0
    while i < len(spans):
        tok, start, end = spans[i]
        if i + 1 < len(spans):
            nxt, nstart, nend = spans[i + 1]
            pair = table.get(f"{tok} {nxt}")
            if pair and query[end:nstart] == " " and len(pair) == nend - start:
                _put(out, query, start, nend, pair)
                i += 2
                continue
        word = table.get(tok)
        if word and len(word) == end - start:
            _put(out, query, start, end, word)
        i += 1
    return "".join(out)


def _put(out: list[str], query: str, start: int, end: int, spelling: str) -> None:
    """Write ``spelling`` over ``out[start:end]`` keeping each word's case."""
    words = query[start:end].split(" ")
    new = spelling.split(" ")
    text = " ".join(_case_like(w, n) for w, n in zip(words, new, strict=True))
    out[start:end] = list(text)
