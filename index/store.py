"""A saved index folder read as one index: the segments its commit names, less tombstones.

Layout of an index folder ``DIR`` (format 2, see docs/index-format.md)::

    DIR/COMMIT         the live segments and their deleted documents (``index.commit``)
    DIR/seg-<id>/      immutable segments (``index.segment``)
    DIR/write.lock     held by the one process writing

:class:`LoadedIndex` presents the live chunks of all segments in one row space (segment by
segment, in commit order): corpus-wide BM25 (``bm25``), the merged spelling table, documents
and chunks. Opening one re-uses the segments an earlier one already read, so picking up a
commit that added one small segment reads only that segment.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from hoidap.config import FORMAT_VERSION
from hoidap.errors import IndexCorruptError, IndexStateError
from index.commit import Commit, read_commit, rebuild_hint
from index.postings import Postings, bm25_scores, live_df
from index.restore import QUESTION_WORDS
from index.segment import Segment, text_hash  # noqa: F401  (text_hash: re-exported)
from index.spellings import add_up
from index.text import fold, tokens
from index.types import Chunk, Document


@dataclass(frozen=True)
class BM25View:
    """Exact and folded BM25 over the live rows of all segments (one row space)."""

    exact: tuple[tuple[Postings, np.ndarray | None], ...]
    folded: tuple[tuple[Postings, np.ndarray | None], ...]
    live_rows: tuple[np.ndarray, ...]
    size: int

    def _stats(self, parts) -> float:
        total = sum(float(np.asarray(p.doclen).sum()) if live is None
                    else float(np.asarray(p.doclen)[live].sum()) for p, live in parts)
        return total / self.size if self.size else 0.0

    @cached_property
    def avgdl(self) -> tuple[float, float]:
        """Average live row length, exact and folded tokens."""
        return self._stats(self.exact), self._stats(self.folded)

    def _variant(self, parts, query: list[str], avgdl: float) -> np.ndarray:
        per = bm25_scores(parts, query, self.size, avgdl)
        if not per:
            return np.zeros(0, np.float32)
        return np.concatenate([s[rows] for s, rows in zip(per, self.live_rows, strict=True)])

    def scores(self, query: str, exact: bool = True) -> np.ndarray:
        """Exact + folded BM25 of every live row (folded only unless ``exact``)."""
        folded = self._variant(self.folded, tokens(fold(query)), self.avgdl[1])
        if not exact:
            return folded
        return self._variant(self.exact, tokens(query), self.avgdl[0]) + folded

    def coverage(self, query: str) -> float:
        """Share of the query's folded tokens some live row holds (0 for an empty query)."""
        toks = tokens(fold(query))
        if not toks or not self.size:
            return 0.0
        return sum(live_df(self.folded, t) > 0 for t in toks) / len(toks)

    def doc_share(self, word: str) -> float:
        """Share of live rows holding ``word`` (exact when it has diacritics, else folded)."""
        if not self.size:
            return 0.0
        low = word.lower()
        parts, key = (self.folded, low) if fold(low) == low else (self.exact, low)
        return live_df(parts, key) / self.size


class SpellingTable(Mapping[str, str]):
    """folded gram -> the live corpus's most frequent accented spelling, looked up per key
    across segments (nothing merged in advance); question words always known."""

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = segments
        syllables = sum(int(s.meta.get("syllables") or 0) for s in segments)
        self.min_pair_count = 1 if syllables < 1_000_000 else 2

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        if key in QUESTION_WORDS:
            return QUESTION_WORDS[key]
        found = [f for f in (seg.spellings.get(key) for seg in self.segments) if f]
        if not found:
            return default
        best, n = add_up(found)[:2]  # the most used spelling (equal counts: first seen)
        if best != key and (n >= self.min_pair_count or " " not in key):
            return best
        return default

    def __getitem__(self, key: str) -> str:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __iter__(self) -> Iterator[str]:
        """Keys with a restored spelling (streams every segment's table: slow, for tests)."""
        keys = dict.fromkeys(k for s in self.segments for k, _ in s.spellings.rows())
        return iter(k for k in {**keys, **dict.fromkeys(QUESTION_WORDS)} if k in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class LoadedIndex:
    """The live content of one commit of ``path``: segments less their deleted documents."""

    def __init__(self, path: Path, commit: Commit, segments: Sequence[Segment]) -> None:
        self.path = path
        self.commit = commit
        self.segments = tuple(segments)

    # -- which rows are live ------------------------------------------------------------------
    def deleted(self, seg: Segment) -> tuple[str, ...]:
        """Deleted documents of ``seg`` in this commit."""
        return self.commit.deleted.get(seg.name, ())

    @cached_property
    def live_docs(self) -> dict[str, tuple[int, dict]]:
        """Live doc id -> (segment number, its entry in the segment's metadata)."""
        out: dict[str, tuple[int, dict]] = {}
        for i, seg in enumerate(self.segments):
            gone = set(self.deleted(seg))
            out.update((d, (i, m)) for d, m in seg.meta["documents"].items() if d not in gone)
        return out

    @cached_property
    def live_masks(self) -> tuple[np.ndarray | None, ...]:
        """Per segment, a boolean mask of live rows (None: all live)."""
        masks = []
        for seg in self.segments:
            gone = set(self.deleted(seg))
            if not gone:
                masks.append(None)
                continue
            dead = [i for i, d in enumerate(seg.meta["documents"]) if d in gone]
            masks.append(~np.isin(seg.row_docs, dead))
        return tuple(masks)

    @cached_property
    def live_rows(self) -> tuple[np.ndarray, ...]:
        """Per segment, its live rows (ascending)."""
        return tuple(np.arange(s.size) if m is None else np.flatnonzero(m)
                     for s, m in zip(self.segments, self.live_masks, strict=True))

    @cached_property
    def offsets(self) -> np.ndarray:
        """Position of each segment's first live row in the live row space (and the total)."""
        return np.concatenate([[0], np.cumsum([len(r) for r in self.live_rows])]).astype(int)

    # -- content ------------------------------------------------------------------------------
    @cached_property
    def documents(self) -> dict[str, Document]:
        """Live documents by id."""
        docs = {}
        for seg in self.segments:
            gone = set(self.deleted(seg))
            docs.update((k, v) for k, v in seg.documents.items() if k not in gone)
        return docs

    @cached_property
    def chunks(self) -> list[Chunk]:
        """Live chunks in row-space order."""
        out: list[Chunk] = []
        for seg, rows in zip(self.segments, self.live_rows, strict=True):
            chunks = seg.chunks
            out.extend(chunks if len(rows) == seg.size else [chunks[i] for i in rows])
        return out

    @cached_property
    def bm25(self) -> BM25View:
        """Corpus-wide BM25 over the live rows."""
        masks = self.live_masks
        return BM25View(tuple(zip((s.postings[0] for s in self.segments), masks, strict=True)),
                        tuple(zip((s.postings[1] for s in self.segments), masks, strict=True)),
                        self.live_rows, int(self.offsets[-1]))

    @cached_property
    def restore_table(self) -> SpellingTable:
        """The spelling table diacritics are restored from."""
        return SpellingTable(self.segments)

    def locate(self, pos: int) -> tuple[Segment, int]:
        """``(segment, row)`` of live row ``pos``."""
        i = int(np.searchsorted(self.offsets, pos, side="right")) - 1
        return self.segments[i], int(self.live_rows[i][pos - self.offsets[i]])

    def vectors(self) -> np.ndarray:
        """The live rows' vectors in row-space order (a copy: for checks and exports)."""
        parts = [np.asarray(s.embeddings)[rows] for s, rows in
                 zip(self.segments, self.live_rows, strict=True)]
        return np.concatenate(parts) if parts else np.zeros((0, self.commit.dim), np.float32)

    def vectors_by_hash(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the rows (deleted ones too, until merged away: the vector of a
        text does not change) whose embedded text has one of ``hashes``."""
        wanted = np.asarray(sorted(set(hashes)), dtype="S32")
        out: dict[str, np.ndarray] = {}
        for seg in self.segments if len(wanted) else ():
            hit = np.flatnonzero(np.isin(seg.hashes, wanted))
            out.update((seg.hashes[r].decode(), np.asarray(seg.embeddings[r])) for r in hit)
        return out

    @property
    def manifest(self) -> dict:
        """The self-description ``hoidap index info`` prints."""
        c = self.commit
        dead = sum(sum(self.segments[i].meta["documents"][d]["chunks"] for d in self.deleted(s))
                   for i, s in enumerate(self.segments))
        return {
            "format_version": FORMAT_VERSION, "generation": c.generation, "model_id": c.model_id,
            "dim": c.dim, "chunking": c.chunking,
            "dense": max((s.meta["dense"] for s in self.segments),
                         key=lambda d: d["kind"] == "hnsw", default={"kind": "flat"}),
            "counts": {"documents": len(self.live_docs),
                       "chunks": sum(m["chunks"] for _, m in self.live_docs.values())},
            "segments": [{"name": s.name, "chunks": s.size,
                          "deleted_documents": len(self.deleted(s)),
                          "dense": s.meta["dense"]["kind"]} for s in self.segments],
            "tombstones": {"documents": sum(len(self.deleted(s)) for s in self.segments),
                           "chunks": dead},
            "documents": {d: {"content_hash": m["content_hash"], "chunks": m["chunks"]}
                          for d, (_, m) in sorted(self.live_docs.items())},
        }

    def read_documents(self, doc_ids: Sequence[str]) -> list[Document]:
        """Live documents among ``doc_ids``, read from their segments (sorted by id)."""
        by_seg: dict[int, list[str]] = {}
        for d in sorted(set(doc_ids) & set(self.live_docs)):
            by_seg.setdefault(self.live_docs[d][0], []).append(d)
        docs = [doc for i, ids in by_seg.items() for doc in self.segments[i].read_documents(ids)]
        return sorted(docs, key=lambda d: d.doc_id)

    def load_all(self) -> LoadedIndex:
        """Read every part of every segment now (raises on damage)."""
        for seg in self.segments:
            seg.load_all()
        _ = self.chunks, self.bm25.avgdl, self.documents
        return self


def open_index(index_dir: Path, reuse: Mapping[str, Segment] | None = None,
               full: bool = True, tries: int = 3) -> LoadedIndex:
    """The current commit of ``index_dir``; segments in ``reuse`` (by name) are not read
    again; ``full``: every part read and checked now (else on first use)."""
    for attempt in range(tries):
        commit = read_commit(index_dir)
        try:
            segments = [(reuse or {}).get(n) or Segment(index_dir / n) for n in commit.segments]
            index = LoadedIndex(index_dir, commit, segments)
            return index.load_all() if full else index
        except FileNotFoundError as exc:  # a newer commit swept them while we read: retry
            if attempt + 1 < tries and read_commit(index_dir).generation != commit.generation:
                continue
            raise _damaged(index_dir, exc) from exc
        except IndexStateError:
            raise
        except Exception as exc:  # any unreadable part means the same thing to the user
            raise _damaged(index_dir, exc) from exc
    raise AssertionError("unreachable")


def _damaged(index_dir: Path, exc: Exception) -> IndexCorruptError:
    return IndexCorruptError(f"index {index_dir} could not be read ({type(exc).__name__}: "
                             f"{exc}); {rebuild_hint(index_dir)}")


def load_index(index_dir: Path, progress: Callable[[str], None] | None = None) -> LoadedIndex:
    """The current commit of ``index_dir``, every part read and checked."""
    return open_index(index_dir)
