"""Milvus text and filter expressions: pure helpers, no client.

Milvus never sees raw text in the BM25 field: it holds our own tokens (``index.text.tokens``:
NFC, canonical tone placement, lowercase), the exact ones followed by the folded ones with a
``_f`` prefix, each escaped so Milvus's ``standard`` tokenizer keeps it whole.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from index.bm25 import exact_tokens, folded_tokens
from qa.types import Filters

MAX_BYTES = 65535  # Milvus VARCHAR limit
PART_BYTES = 60000  # document text per row of <p>_docs
_ESCAPES = (("_", "_u"), (".", "_d"), (",", "_c"), ("/", "_s"))


def encode_token(tok: str) -> str:
    """A token Milvus's standard tokenizer keeps whole (``"3,5"`` -> ``"3_c5"``); injective."""
    for old, new in _ESCAPES:
        tok = tok.replace(old, new)
    return tok


def bm25_text(text: str) -> str:
    """What the BM25 field holds for ``text``: exact tokens, then ``_f``-prefixed folded ones."""
    exact = [encode_token(t) for t in exact_tokens(text)]
    folded = ["_f" + encode_token(t) for t in folded_tokens(text)]
    return " ".join([*exact, *folded])


def bm25_query(query: str, exact: bool) -> str:
    """The BM25 query for ``query``: folded tokens, plus the exact ones when ``exact``."""
    folded = ["_f" + encode_token(t) for t in folded_tokens(query)]
    return " ".join([*(encode_token(t) for t in exact_tokens(query) if exact), *folded])


def split_utf8(text: str, max_bytes: int = PART_BYTES) -> list[str]:
    """``text`` in consecutive parts of at most ``max_bytes`` UTF-8 bytes (at least one part)."""
    parts, start, size = [], 0, 0
    for i, ch in enumerate(text):
        n = len(ch.encode("utf-8"))
        if size + n > max_bytes:
            parts.append(text[start:i])
            start, size = i, 0
        size += n
    parts.append(text[start:])
    return parts


def quote(value: str) -> str:
    """A Milvus string literal."""
    return json.dumps(value, ensure_ascii=False)


def in_expr(field: str, values: Sequence[str]) -> str:
    """``field in ["a", "b"]``."""
    return f"{field} in [{', '.join(quote(v) for v in values)}]"


def filter_expr(filters: Filters | None) -> str:
    """Milvus filter expression for ``filters`` ("" = everything). Undated chunks (date "")
    match a date bound only with ``filters.include_undated``."""
    if filters is None:
        return ""
    parts = []
    if filters.doc_ids is not None:
        parts.append(in_expr("doc_id", filters.doc_ids) if filters.doc_ids else 'doc_id == ""')
    dated = []
    if filters.date_from:
        dated.append(f"date >= {quote(filters.date_from)}")
    if filters.date_to:
        dated.append(f'date <= {quote(filters.date_to)} and date != ""')
    if dated:
        bound = " and ".join(dated)
        parts.append(f'(({bound}) or date == "")' if filters.include_undated else bound)
    return " and ".join(parts)
