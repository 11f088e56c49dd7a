"""The two BM25 token streams over Vietnamese syllables: exact and diacritic-folded.

Tokens come from ``index.text.tokens`` (one-letter words like "ở" and numbers kept). A query is
scored against both and the scores are added: "tong thu ngan sach" still finds "tổng thu ngân
sách" through the folded postings, while a query with the right tone marks also scores on the
exact ones and so ranks exact matches higher (``index.postings``, ``index.store.BM25View``;
Milvus keeps the same two fields).
"""

from __future__ import annotations

from index.text import fold, tokens


def exact_tokens(text: str) -> list[str]:
    """Syllable tokens with tone marks."""
    return tokens(text)


def folded_tokens(text: str) -> list[str]:
    """Syllable tokens with diacritics removed."""
    return tokens(fold(text))
