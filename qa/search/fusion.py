"""Rank fusion and score normalisation: small pure functions over arrays.

:func:`fuse` is the one place where an engine's raw rankings (``{"dense": [...], "bm25":
[...]}``, best first) become the fused, [0, 1]-scored list, for every engine.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import replace

import numpy as np

from qa.types import Passage

RANKINGS: tuple[str, ...] = ("dense", "bm25")  # what an engine ranks by, in fusion order


def top_k(scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` highest positive scores (best first), optionally within ``mask``."""
    s = np.asarray(scores, dtype=np.float64)
    valid = s > 0 if mask is None else (s > 0) & mask
    idx = np.flatnonzero(valid)
    if idx.size > k:
        idx = idx[np.argpartition(-s[idx], k - 1)[:k]]
    return idx[np.argsort(-s[idx], kind="stable")]


def rrf(rankings: Sequence[Sequence[Hashable]], weights: Sequence[float], k: int = 60
        ) -> list[tuple[Hashable, float]]:
    """Weighted reciprocal rank fusion: ``sum_w w / (k + rank)``, rank starting at 1.

    Returns ``(item, score)`` pairs, best first; ties broken by first appearance.
    """
    if len(rankings) != len(weights):
        raise ValueError("one weight per ranking is needed")
    fused: dict[Hashable, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            key = int(item) if isinstance(item, np.integer) else item
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda kv: -kv[1])


def max_rrf(weights: Sequence[float], k: int = 60) -> float:
    """The best possible fused score (first in every ranking), for normalising to [0, 1]."""
    return float(sum(weights)) / (k + 1)


def minmax(values: Sequence[float]) -> list[float]:
    """Scale to [0, 1]; a constant list maps to all ones."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return []
    lo, hi = float(arr.min()), float(arr.max())
    if hi - lo < 1e-12:
        return [1.0] * arr.size
    return ((arr - lo) / (hi - lo)).tolist()


def fusion_weights(dense: float, bm25: float, has_marks: bool, coverage: float,
                   min_coverage: float = 0.6, damp: float = 0.3) -> tuple[float, float]:
    """Adapt the dense/BM25 weights to how a query is written.

    A Vietnamese query typed without diacritics (``not has_marks`` but most of its syllables
    occur in the corpus) is matched far better by folded BM25 than by the embedding, so the
    dense weight is damped. A query mostly made of words foreign to the corpus (English, say)
    is the embedding's job, so the BM25 weight is damped instead.
    """
    if has_marks:
        return dense, bm25
    if coverage >= min_coverage:
        return dense * damp, bm25
    return dense, bm25 * damp


def mode_weights(mode: str, dense: float, bm25: float) -> dict[str, float]:
    """The rankings a search ``mode`` fuses, with their weights: both for ``"hybrid"``
    (``dense``, ``bm25``), else the one ranking at weight 1."""
    if mode == "hybrid":
        return {"dense": dense, "bm25": bm25}
    if mode not in RANKINGS:
        raise ValueError(f"unknown search mode {mode!r}; use hybrid, dense or bm25")
    return {mode: 1.0}


def fuse(rankings: Mapping[str, Sequence[Passage]], weights: Mapping[str, float],
         rrf_k: int = 60, k: int | None = None) -> list[Passage]:
    """The top ``k`` (all: None) of the weighted RRF of ``rankings`` (name -> passages, best
    first; a missing name is an empty ranking) in the order of ``weights``; scores scaled to
    [0, 1] by :func:`max_rrf`. A passage in several lists keeps its first appearance's fields."""
    first: dict[str, Passage] = {}
    lists = []
    for name in weights:
        ranking = rankings.get(name, ())
        for p in ranking:
            first.setdefault(p.chunk_id, p)
        lists.append([p.chunk_id for p in ranking])
    best = max_rrf(list(weights.values()), rrf_k)
    return [replace(first[str(cid)], score=score / best)
            for cid, score in rrf(lists, list(weights.values()), rrf_k)[:k]]


def prefer(scores: Sequence[float], matches: Sequence[bool], bonus: float) -> list[int]:
    """Candidate order after adding ``bonus`` to the scores of the ``matches`` (stable)."""
    boosted = [s + (bonus if m else 0.0) for s, m in zip(scores, matches, strict=True)]
    return sorted(range(len(boosted)), key=lambda i: -boosted[i])
