"""The query a question becomes once, before any engine ranks it, and the one ranking path
for every engine: raw rankings from the engine, fused by :func:`qa.search.fusion.fuse`."""

from __future__ import annotations

from typing import Literal

import numpy as np

from hoidap.config import RetrievalConfig
from index.restore import restore
from index.text import has_marks, normalize
from qa.search.fusion import fuse, fusion_weights, mode_weights
from qa.search.protocol import Query, SearchEngine, Vocabulary
from qa.types import Filters, Passage

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
MIN_COVERAGE = 0.6  # share of corpus syllables for a mark-less query to count as Vietnamese


def restored_text(text: str, marks: bool, vocab: Vocabulary) -> str:
    """``text`` with diacritics restored when it has none and the corpus knows it."""
    if marks or vocab.coverage < MIN_COVERAGE:
        return text
    return restore(text, vocab.table)  # type: ignore[arg-type]  # read with .get only


def make_query(typed: str, engine: SearchEngine) -> Query:
    """The :class:`Query` of ``typed`` over ``engine``'s corpus (one vocabulary look-up)."""
    text = normalize(typed)
    vocab = engine.vocabulary(text)
    marks = has_marks(text)
    return Query(typed, text, restored_text(text, marks, vocab), marks, vocab.coverage)


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
    return fuse(rankings, weights, config.rrf_k, k)
