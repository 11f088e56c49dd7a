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


class SlowEmbedder(HashEmbedder):
    """:class:`HashEmbedder` whose passages take ``delay`` seconds per batch of ``batch``,
    reporting progress after each (an indexing job that lasts; it pickles, so it also runs
    in the indexing worker process)."""

    def __init__(self, delay: float = 0.05, batch: int = 4) -> None:
        super().__init__()
        self.delay, self.batch = delay, batch

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None,
                        progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        import time

        rows = []
        for start in range(0, len(texts), self.batch):
            time.sleep(self.delay)
            rows.append(self._encode(texts[start:start + self.batch]))
            if progress:
                progress(min(start + self.batch, len(texts)), len(texts))
        return np.concatenate(rows) if rows else np.zeros((0, self.dim), np.float32)


class BrokenEmbedder(HashEmbedder):
    """Questions work; embedding passages fails (``crash``: the process dies at once)."""

    def __init__(self, crash: bool = False) -> None:
        super().__init__()
        self.crash = crash

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None,
                        progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        if self.crash:
            import os

            os._exit(3)
        raise RuntimeError("embedding backend exploded")
