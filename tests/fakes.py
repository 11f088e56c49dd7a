"""Test doubles: a tiny deterministic embedder so index tests need no model."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

from index.text import fold, tokens


class HashEmbedder:
    """Bag of folded syllables hashed into 384 dimensions, L2-normalised."""

    dim = 384
    model_id = "test/hash"

    def __init__(self) -> None:
        self.calls = 0
        self.encoded = 0

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        for tok in tokens(fold(text)):
            h = int(hashlib.md5(tok.encode()).hexdigest()[:8], 16)
            v[h % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        self.encoded += len(texts)
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim),
                                                                              np.float32)

    def encode_queries(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        return self._encode(texts)

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None,
                        progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        out = self._encode(texts)
        if progress:
            progress(len(texts), len(texts))
        return out
