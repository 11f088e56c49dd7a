"""Rank fusion and score normalisation: small pure functions over arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_k(scores: np.ndarray, k: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``k`` highest positive scores (best first), optionally within ``mask``."""
    s = np.asarray(scores, dtype=np.float64)
    valid = s > 0 if mask is None else (s > 0) & mask
    idx = np.flatnonzero(valid)
    if idx.size > k:
        idx = idx[np.argpartition(-s[idx], k - 1)[:k]]
    return idx[np.argsort(-s[idx], kind="stable")]


def rrf(rankings: Sequence[Sequence[int]], weights: Sequence[float], k: int = 60
        ) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: ``sum_w w / (k + rank)``, rank starting at 1.

    Returns ``(item, score)`` pairs, best first; ties broken by first appearance.
    """
    if len(rankings) != len(weights):
        raise ValueError("one weight per ranking is needed")
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            fused[int(item)] = fused.get(int(item), 0.0) + weight / (k + rank)
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


def prefer(scores: Sequence[float], matches: Sequence[bool], bonus: float) -> list[int]:
    """Candidate order after adding ``bonus`` to the scores of the ``matches`` (stable)."""
    boosted = [s + (bonus if m else 0.0) for s, m in zip(scores, matches, strict=True)]
    return sorted(range(len(boosted)), key=lambda i: -boosted[i])
