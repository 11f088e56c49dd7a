"""BM25 over Vietnamese syllables, kept twice: exact and diacritic-folded.

bm25s's own splitter drops one-letter words ("ở", "ý") and digits, so tokens come from
``index.text.tokens``. A query is scored against both indexes and the scores are added:
"tong thu ngan sach" still finds "tổng thu ngân sách" through the folded index, while a query
with the right tone marks also scores on the exact index and so ranks exact matches higher.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.text import fold, tokens

EXACT_DIR = "bm25"
FOLDED_DIR = "bm25_folded"


def exact_tokens(text: str) -> list[str]:
    """Syllable tokens with tone marks."""
    return tokens(text)


def folded_tokens(text: str) -> list[str]:
    """Syllable tokens with diacritics removed."""
    return tokens(fold(text))


def _build(corpus: list[list[str]]):
    import bm25s

    model = bm25s.BM25()
    if corpus:
        model.index(corpus, show_progress=False)
    return model


def _scores(model, size: int, query: list[str]) -> np.ndarray:
    if size == 0 or not query:
        return np.zeros(size, dtype=np.float32)
    return np.asarray(model.get_scores(query), dtype=np.float32)


class BM25Pair:
    """An exact and a folded BM25 index over the same rows."""

    def __init__(self, exact, folded, size: int) -> None:
        self.exact = exact
        self.folded = folded
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> BM25Pair:
        """Index ``texts`` (row i = chunk i)."""
        exact = _build([exact_tokens(t) for t in texts])
        folded = _build([folded_tokens(t) for t in texts])
        return cls(exact, folded, len(texts))

    def scores(self, query: str, exact: bool = True) -> np.ndarray:
        """Exact + folded BM25 score of every row for ``query`` (folded only if not ``exact``)."""
        folded = _scores(self.folded, self.size, folded_tokens(query))
        if not exact:
            return folded
        return _scores(self.exact, self.size, exact_tokens(query)) + folded

    def coverage(self, query: str) -> float:
        """Share of the query's folded tokens that occur in the corpus (0 for an empty query)."""
        toks = folded_tokens(query)
        if not toks or self.folded is None:
            return 0.0
        vocab = self.folded.vocab_dict
        return sum(t in vocab for t in toks) / len(toks)

    def doc_share(self, word: str) -> float:
        """Share of rows holding ``word`` (exact index when it has diacritics, else folded);
        0.0 for a word the corpus lacks."""
        if not self.size or self.exact is None:
            return 0.0
        folded = fold(word.lower())
        model, key = (self.folded, folded) if folded == word.lower() else \
            (self.exact, word.lower())
        i = model.vocab_dict.get(key)
        if i is None:
            return 0.0
        indptr = model.scores["indptr"]
        return float(indptr[i + 1] - indptr[i]) / self.size

    def save(self, folder: Path) -> None:
        """Write both indexes under ``folder`` (numpy + json, no pickle)."""
        for name, model in ((EXACT_DIR, self.exact), (FOLDED_DIR, self.folded)):
            (folder / name).mkdir()
            if name == EXACT_DIR:
                (folder / name / "size.txt").write_text(str(self.size), encoding="utf-8")
            if self.size:
                model.save(str(folder / name), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> BM25Pair:
        """Read both indexes from ``folder`` (memory-mapped)."""
        import bm25s

        size = int((folder / EXACT_DIR / "size.txt").read_text(encoding="utf-8"))
        if size == 0:
            return cls(None, None, 0)
        models = [bm25s.BM25.load(str(folder / name), mmap=True, show_progress=False)
                  for name in (EXACT_DIR, FOLDED_DIR)]
        return cls(models[0], models[1], size)
