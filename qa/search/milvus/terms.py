"""The ``<p>_terms`` collection's arithmetic: spelling counts per folded syllable (or pair),
from which queries typed without diacritics are restored. Pure functions."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from index.restore import QUESTION_WORDS, Table, grams
from index.text import fold

MAX_GRAM_BYTES = 1000


def restore_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """folded gram -> most frequent spelling, from ``<p>_terms`` rows (``id``: folded gram,
    ``spellings``: JSON spelling -> count), like ``index.restore.build_table`` with one
    occurrence enough (ties: the smallest spelling)."""
    table: Table = {}
    for row in rows:
        key = row["id"]
        spellings = [(n, g) for g, n in json.loads(row["spellings"]).items()
                     if g != key or any(c.isalpha() for c in g)]
        if spellings:
            _, best = max(spellings, key=lambda ng: (ng[0], _neg(ng[1])))
            if best != key:
                table[key] = best
    return {**table, **QUESTION_WORDS}


def merge_spellings(current: Mapping[str, int], delta: Mapping[str, int],
                    keep: int = 200) -> dict[str, int]:
    """Spelling counts after ``delta``; gone when zero; at most ``keep`` (the most frequent)."""
    out = dict(current)
    for gram, n in delta.items():
        out[gram] = out.get(gram, 0) + n
    top = sorted(((n, g) for g, n in out.items() if n > 0), key=lambda ng: -ng[0])[:keep]
    return {g: n for n, g in top}


def _neg(s: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in s)


def term_delta(old_texts: Sequence[str], new_texts: Sequence[str]) -> dict[str, dict[str, int]]:
    """folded gram -> {spelling: change in count} when ``old_texts`` become ``new_texts``
    (grams over ``MAX_GRAM_BYTES`` are not counted; zero changes left out)."""
    delta: Counter[str] = Counter()
    for text in new_texts:
        delta.update(g for g in grams(text) if len(g.encode("utf-8")) <= MAX_GRAM_BYTES)
    for text in old_texts:
        delta.subtract(g for g in grams(text) if len(g.encode("utf-8")) <= MAX_GRAM_BYTES)
    by_key: dict[str, dict[str, int]] = {}
    for gram, n in delta.items():
        if n:
            by_key.setdefault(fold(gram), {})[gram] = n
    return by_key
