"""Rankings over a loaded local index: filters, dense per segment, corpus-wide BM25.

Positions are live rows of the whole index (segment by segment). Equal scores are ordered by
``(doc_id, start)``, so an index split into segments ranks exactly as one segment does.
"""

from __future__ import annotations

import numpy as np

from index.store import LoadedIndex
from qa.scoring import row_dots
from qa.search.fusion import top_k
from qa.types import Filters


def filter_mask(index: LoadedIndex, filters: Filters | None) -> np.ndarray | None:
    """Boolean mask over live rows allowed by ``filters`` (None = all rows)."""
    if filters is None or (filters.doc_ids is None and not filters.date_from
                           and not filters.date_to):
        return None
    allowed = set()
    for doc in index.documents.values():
        if filters.doc_ids is not None and doc.doc_id not in filters.doc_ids:
            continue
        if (filters.date_from or filters.date_to) and not doc.date:
            if filters.include_undated:
                allowed.add(doc.doc_id)
            continue
        if filters.date_from and doc.date < filters.date_from:
            continue
        if filters.date_to and doc.date > filters.date_to:
            continue
        allowed.add(doc.doc_id)
    return np.fromiter((c.doc_id in allowed for c in index.chunks), dtype=bool,
                       count=len(index.chunks))


def ordered(index: LoadedIndex, hits: list[tuple[int, float]], n: int) -> list[tuple[int, float]]:
    """``hits`` best first, scores equal to 6 decimals by ``(doc_id, start)``, cut to ``n``."""
    chunks = index.chunks
    hits.sort(key=lambda h: (-round(h[1], 6), chunks[h[0]].doc_id, chunks[h[0]].start))
    return hits[:n]


def with_ties(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the ``n`` highest ``scores`` and of every score tied with the lowest of
    them (to 1e-6), so the cut is made by :func:`ordered`, not by the order of rows."""
    if len(scores) <= n:
        return np.arange(len(scores))
    best = np.argpartition(-scores, n - 1)[:n]
    return np.flatnonzero(scores >= scores[best].min() - 1e-6)


def dense_ranking(index: LoadedIndex, vec: np.ndarray | None, n: int,
                  mask: np.ndarray | None) -> list[tuple[int, float]]:
    """``(position, cosine)`` by similarity to the query vector ``vec``: exact over each
    flat segment (and within a filter), HNSW for large segments; deleted rows skipped."""
    if not index.chunks:
        return []
    if vec is None:
        raise ValueError("dense ranking needs a query vector")
    q = np.asarray(vec, dtype=np.float32).reshape(1, -1)
    hits: list[tuple[int, float]] = []
    for i, (seg, rows) in enumerate(zip(index.segments, index.live_rows, strict=True)):
        start = int(index.offsets[i])
        if mask is None and seg.meta["dense"]["kind"] != "flat":
            hits.extend(_approximate(seg, rows, start, q, n))
            continue
        local = np.arange(len(rows)) if mask is None else \
            np.flatnonzero(mask[start:start + len(rows)])
        sims = row_dots(seg.embeddings, q[0])[rows[local]]
        hits.extend((start + int(local[j]), float(sims[j])) for j in with_ties(sims, n))
    return ordered(index, hits, n)


def _approximate(seg, rows: np.ndarray, start: int, q: np.ndarray, n: int
                 ) -> list[tuple[int, float]]:
    """The segment's HNSW top ``n`` live rows as positions."""
    pos = np.full(seg.size, -1, np.int64)
    pos[rows] = np.arange(len(rows)) + start
    want = min(seg.size, n + seg.size - len(rows))
    scores, ids = seg.dense.search(q, want)
    return [(int(pos[r]), float(s)) for r, s in zip(ids[0], scores[0], strict=True)
            if r >= 0 and pos[r] >= 0]


def bm25_ranking(index: LoadedIndex, text: str, n: int, mask: np.ndarray | None,
                 exact: bool) -> list[tuple[int, float]]:
    """``(position, score)`` by exact + folded BM25 (folded only unless ``exact``), only rows
    sharing a term; every row tied with the last kept one is considered before cutting."""
    scores = index.bm25.scores(text, exact)
    idx = top_k(scores, n, mask)
    if len(idx) == n:
        valid = scores == scores[idx[-1]] if mask is None else (scores == scores[idx[-1]]) & mask
        idx = np.union1d(idx, np.flatnonzero(valid))
    return ordered(index, [(int(i), float(scores[i])) for i in idx], n)
