"""Hybrid retrieval: dense (FAISS) and BM25 rankings fused by weighted RRF, with filters."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np

from hoidap.config import RetrievalConfig
from hoidap.errors import InputError
from index.restore import restore
from index.store import LoadedIndex
from index.text import has_marks, normalize
from qa.fusion import fusion_weights, max_rrf, rrf, top_k
from qa.types import Filters, Passage

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MIN_COVERAGE = 0.6  # share of corpus syllables for a mark-less query to count as Vietnamese


class QueryEncoder(Protocol):
    """What retrieval needs from an embedder."""

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def check_filters(filters: Filters | None, known_docs: Sequence[str]) -> None:
    """Reject malformed dates, reversed ranges and unknown document ids."""
    if filters is None:
        return
    for name in ("date_from", "date_to"):
        value = getattr(filters, name)
        if value is not None and not _ISO.match(value):
            raise InputError(f"{name} must be a date like 2021-09-24, got {value!r}")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InputError(
            f"date_from {filters.date_from} is after date_to {filters.date_to}; swap them")
    if filters.doc_ids is not None:
        known = set(known_docs)
        unknown = [d for d in filters.doc_ids if d not in known]
        if unknown:
            raise InputError(f"unknown document id(s) in filter: {', '.join(unknown[:5])}")


def filter_mask(index: LoadedIndex, filters: Filters | None) -> np.ndarray | None:
    """Boolean mask over chunk rows allowed by ``filters`` (None = all rows)."""
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


class Retriever:
    """Ranks chunks of one loaded index for a query."""

    def __init__(self, index: LoadedIndex, encoder: QueryEncoder, config: RetrievalConfig):
        self.index = index
        self.encoder = encoder
        self.config = config

    def dense_ranking(self, query: str, n: int, mask: np.ndarray | None) -> list[int]:
        """Rows by cosine similarity to the query embedding."""
        if not self.index.chunks:
            return []
        q = np.asarray(self.encoder.encode_queries([query]), dtype=np.float32).reshape(1, -1)
        if mask is None:
            _, ids = self.index.dense.search(q, min(n, len(self.index.chunks)))
            return [int(i) for i in ids[0] if i >= 0]
        rows = np.flatnonzero(mask)
        scores = np.asarray(self.index.embeddings[rows]) @ q[0]
        order = np.argsort(-scores, kind="stable")[:n]
        return [int(rows[i]) for i in order]

    def bm25_ranking(self, query: str, n: int, mask: np.ndarray | None,
                     exact: bool = True) -> list[int]:
        """Rows by exact + folded BM25 score (only rows sharing a term)."""
        return [int(i) for i in top_k(self.index.bm25.scores(query, exact), n, mask)]

    def restored(self, query: str) -> str:
        """``query`` with diacritics restored from the corpus when it was typed without them
        (and is mostly made of the corpus's syllables); otherwise unchanged."""
        query = normalize(query)
        if has_marks(query) or self.index.bm25.coverage(query) < MIN_COVERAGE:
            return query
        return restore(query, self.index.restore_table)

    def rank(self, query: str, k: int, filters: Filters | None = None,
             mode: Mode = "hybrid") -> list[tuple[int, float]]:
        """``(row, score)`` pairs, best first, score in [0, 1]."""
        query = normalize(query)
        mask = filter_mask(self.index, filters)
        n = max(self.config.candidates, k)
        cfg = self.config
        marks = has_marks(query)
        dense_w, bm25_w = fusion_weights(cfg.dense_weight, cfg.bm25_weight, marks,
                                         self.index.bm25.coverage(query), MIN_COVERAGE)
        rankings: list[list[int]] = []
        weights: list[float] = []
        if mode in ("hybrid", "dense"):
            rankings.append(self.dense_ranking(self.restored(query), n, mask))
            weights.append(dense_w if mode == "hybrid" else 1.0)
        if mode in ("hybrid", "bm25"):
            rankings.append(self.bm25_ranking(query, n, mask, exact=marks))
            weights.append(bm25_w if mode == "hybrid" else 1.0)
        fused = rrf(rankings, weights, cfg.rrf_k)[:k]
        best = max_rrf(weights, cfg.rrf_k)
        return [(row, score / best) for row, score in fused]

    def search(self, query: str, k: int = 5, filters: Filters | None = None,
               mode: Mode = "hybrid") -> list[Passage]:
        """Top-``k`` passages for ``query``."""
        return [self.passage(row, score) for row, score in self.rank(query, k, filters, mode)]

    def passage(self, row: int, score: float) -> Passage:
        """The chunk at ``row`` with its document's metadata."""
        c = self.index.chunks[row]
        d = self.index.documents[c.doc_id]
        return Passage(c.chunk_id, c.doc_id, d.title, d.date, d.source, c.paragraph, c.text,
                       c.start, c.end, float(score))
