"""BM25 postings of one segment, and corpus-wide BM25 scoring over many segments.

A segment keeps, per term, the rows holding it and how often (CSR: ``indptr``, ``rows``,
``tfs``) and every row's length. Scores are computed at query time from statistics over the
*live* rows of all segments (document frequency, row count, average length), so a corpus
split into many segments, with deleted rows, ranks exactly as the same live rows in one:
Lucene's BM25 (k1 1.5, b 0.75), ``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, the formula
bm25s used before. Nothing is pickled: arrays are ``.npy``, the vocabulary JSON.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

K1 = 1.5
B = 0.75
_ARRAYS = ("indptr", "rows", "tfs", "doclen")


@dataclass(frozen=True)
class Postings:
    """Term -> rows (CSR by term) of one segment, with each row's length in tokens."""

    vocab: dict[str, int]
    indptr: np.ndarray  # int64 (n_terms + 1)
    rows: np.ndarray  # int32, rows of term t: rows[indptr[t]:indptr[t + 1]] (ascending)
    tfs: np.ndarray  # float32, the term's count in each of those rows
    doclen: np.ndarray  # float32 (n_rows)

    @property
    def size(self) -> int:
        """Rows indexed."""
        return int(self.doclen.shape[0])

    def slice(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, tfs)`` of ``term`` (empty when the segment lacks it)."""
        t = self.vocab.get(term)
        if t is None:
            return _EMPTY_I, _EMPTY_F
        a, b = int(self.indptr[t]), int(self.indptr[t + 1])
        return self.rows[a:b], self.tfs[a:b]

    def save(self, folder: Path, name: str) -> None:
        """``name.vocab.json`` and ``name.<array>.npy`` under ``folder``."""
        terms = sorted(self.vocab, key=self.vocab.__getitem__)
        (folder / f"{name}.vocab.json").write_text(json.dumps(terms, ensure_ascii=False),
                                                   encoding="utf-8")
        for key in _ARRAYS:
            np.save(folder / f"{name}.{key}.npy", getattr(self, key), allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, name: str) -> Postings:
        """Read what :meth:`save` wrote (arrays memory-mapped)."""
        terms = json.loads((folder / f"{name}.vocab.json").read_text(encoding="utf-8"))
        arrays = [_read(folder / f"{name}.{key}.npy", key) for key in _ARRAYS]
        postings = cls({t: i for i, t in enumerate(terms)}, *arrays)
        if len(postings.indptr) != len(terms) + 1 or len(postings.rows) != len(postings.tfs):
            raise ValueError(f"postings {name} in {folder} are inconsistent")
        return postings


def _read(path: Path, key: str) -> np.ndarray:
    """``rows``/``tfs`` memory-mapped (the bulk), ``indptr``/``doclen`` in memory; plain
    ndarray views either way (a ``np.memmap`` slice costs a Python object per query term)."""
    if key in ("indptr", "doclen"):
        return np.load(path, allow_pickle=False)
    return np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)


_EMPTY_I = np.zeros(0, np.int32)
_EMPTY_F = np.zeros(0, np.float32)


def build_postings(token_lists: Sequence[Sequence[str]]) -> Postings:
    """Postings of ``token_lists`` (row i = list i)."""
    vocab: dict[str, int] = {}
    terms, rows, tfs = [], [], []
    for row, toks in enumerate(token_lists):
        for term, tf in Counter(toks).items():
            terms.append(vocab.setdefault(term, len(vocab)))
            rows.append(row)
            tfs.append(tf)
    return _csr(vocab, np.asarray(terms, np.int64), np.asarray(rows, np.int32),
                np.asarray(tfs, np.float32),
                np.asarray([len(t) for t in token_lists], np.float32))


def _csr(vocab: dict[str, int], terms: np.ndarray, rows: np.ndarray, tfs: np.ndarray,
         doclen: np.ndarray) -> Postings:
    order = np.lexsort((rows, terms))
    counts = np.bincount(terms, minlength=len(vocab)) if len(terms) else np.zeros(len(vocab))
    indptr = np.zeros(len(vocab) + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    return Postings(vocab, indptr, rows[order].astype(np.int32), tfs[order].astype(np.float32),
                    doclen.astype(np.float32))


def merge_postings(parts: Sequence[tuple[Postings, np.ndarray]]) -> Postings:
    """One segment's postings from ``(postings, kept rows)`` of several, rows renumbered in
    order (part 0's kept rows first); nothing is re-tokenised."""
    vocab: dict[str, int] = {}
    terms, rows, tfs, lens = [], [], [], []
    offset = 0
    for postings, keep in parts:
        keep = np.asarray(keep, np.int64)
        new_row = np.full(postings.size, -1, np.int64)
        new_row[keep] = np.arange(len(keep)) + offset
        by_term = np.repeat(np.arange(len(postings.vocab)), np.diff(postings.indptr))
        remap = np.asarray([vocab.setdefault(t, len(vocab)) for t in
                            sorted(postings.vocab, key=postings.vocab.__getitem__)], np.int64)
        mapped = new_row[np.asarray(postings.rows)]
        alive = mapped >= 0
        terms.append(remap[by_term[alive]] if len(remap) else by_term[alive])
        rows.append(mapped[alive])
        tfs.append(np.asarray(postings.tfs)[alive])
        lens.append(np.asarray(postings.doclen)[keep])
        offset += len(keep)
    def cat(xs, dt):
        return (np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt))
    return _csr(vocab, cat(terms, np.int64), cat(rows, np.int32), cat(tfs, np.float32),
                cat(lens, np.float32))


# -- corpus-wide scoring (pure) -----------------------------------------------------------------
def live_df(parts: Sequence[tuple[Postings, np.ndarray | None]], term: str) -> int:
    """Live rows holding ``term`` across ``(postings, live mask or None = all live)``."""
    df = 0
    for postings, live in parts:
        rows, _ = postings.slice(term)
        df += len(rows) if live is None else int(np.count_nonzero(live[rows]))
    return df


def idf(df: int, n: int) -> float:
    """Lucene's BM25 idf."""
    return float(np.log(1.0 + (n - df + 0.5) / (df + 0.5)))


def bm25_scores(parts: Sequence[tuple[Postings, np.ndarray | None]], query: Sequence[str],
                n_live: int, avgdl: float, k1: float = K1, b: float = B) -> list[np.ndarray]:
    """Per part, the BM25 score of each of its rows for the ``query`` tokens (repeats count),
    with idf and length normalisation from the live corpus (``n_live`` rows, ``avgdl``)."""
    out = [np.zeros(p.size, np.float32) for p, _ in parts]
    if n_live == 0 or not query or avgdl <= 0:
        return out
    norms: list[np.ndarray | None] = [None] * len(parts)  # per part, made on first use
    for term, times in Counter(query).items():
        hits = [postings.slice(term) for postings, _ in parts]
        df = sum(len(rows) if live is None else int(np.count_nonzero(live[rows]))
                 for (rows, _), (_, live) in zip(hits, parts, strict=True))
        if df == 0:
            continue
        weight = np.float32(idf(df, n_live) * times)
        for i, ((rows, tfs), scores) in enumerate(zip(hits, out, strict=True)):
            if len(rows):
                if norms[i] is None:
                    norms[i] = (k1 * ((1 - b) + b * parts[i][0].doclen / avgdl)
                                ).astype(np.float32)
                norm = norms[i][rows]  # type: ignore[index]
                scores[rows] += weight * (tfs / (norm + tfs))
    return out
