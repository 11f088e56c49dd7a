"""One ranking path for every engine: raw rankings from the engine, fused here."""

from __future__ import annotations

import numpy as np

from hoidap.config import RetrievalConfig
from qa.search.fusion import fuse, fusion_weights, mode_weights
from qa.search.protocol import SearchEngine
from qa.search.query import MIN_COVERAGE, Mode, Query
from qa.types import Filters, Passage


def query_weights(query: Query, mode: Mode, config: RetrievalConfig) -> dict[str, float]:
    """The rankings ``mode`` fuses, weighted for how ``query`` is written
    (:func:`qa.search.fusion.fusion_weights`)."""
    dense, bm25 = fusion_weights(config.dense_weight, config.bm25_weight, query.has_marks,
                                 query.coverage, MIN_COVERAGE)
    return mode_weights(mode, dense, bm25)


def rank(engine: SearchEngine, query: Query, vec: np.ndarray | None, k: int,
         filters: Filters | None, mode: Mode, config: RetrievalConfig) -> list[Passage]:
    """Top-``k`` passages of ``engine`` for ``query`` (``vec``: the embedding of
    ``query.restored``, None for ``mode="bm25"``), score in [0, 1]."""
    weights = query_weights(query, mode, config)
    rankings = engine.rankings(query, vec, max(config.candidates, k), filters, tuple(weights))
    return fuse(rankings, weights, config.rrf_k)[:k]
