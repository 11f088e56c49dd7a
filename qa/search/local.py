"""The local engine: the saved index folder, immutable segments plus a commit file
(``index.store``, ``index.commit``, docs/index-format.md).

Writes are staged; :meth:`LocalEngine.flush` writes them as one new segment, and
:meth:`LocalEngine.commit` names it in a new commit with tombstones for the documents it
replaces or drops. Queries on an engine object see the commit it loaded;
:meth:`LocalEngine.refreshed` picks up a newer one, reading only its new segments.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

import numpy as np

from hoidap.config import EMBED_DIM, ChunkingConfig, Config
from hoidap.errors import IndexNotFoundError
from index.commit import (
    Commit,
    commit_stamp,
    empty_commit,
    read_commit,
    sweep,
    write_commit,
    write_lock,
)
from index.merge import SegmentSize, merge_segments, plan_merges
from index.segment import SEGMENT_META, Segment, SegmentData, text_hash, write_segment
from index.store import LoadedIndex, open_index
from index.types import Chunk, Document
from qa.search.protocol import Query, Vocabulary
from qa.search.ranking import bm25_ranking, dense_ranking, filter_mask
from qa.types import Filters, Passage

Staged = tuple[Document, list[tuple[Chunk, np.ndarray, str]]]


class LocalEngine:
    """A loaded commit (None: no index yet) and the writes staged on top of it."""

    name = "local"

    def __init__(self, index: LoadedIndex | None, config: Config,
                 stamp: tuple | None = None) -> None:
        self.index = index
        self.config = config
        self._stamp = stamp
        self._clear = False
        self._drop: set[str] = set()
        self._new: list[Staged] = []
        self._flushed: list[tuple[str, list[str]]] = []  # (segment, its doc ids), uncommitted
        self._flushed_dead: dict[str, set[str]] = {}  # flushed documents deleted since
        self.fresh = False  # a writer that will clear the index (reads nothing of it)

    @property
    def folder(self) -> Path:
        """The index folder."""
        return self.config.resolved_index_dir

    @classmethod
    def open(cls, config: Config, *, create: bool = False, full: bool = True,
             reuse: Mapping[str, Segment] | None = None) -> LocalEngine:
        """The current commit of the configured folder; ``create``: none is fine (empty);
        ``full``: every part read now (a writer reads what it needs when it needs it)."""
        folder = config.resolved_index_dir
        stamp = commit_stamp(folder)
        try:
            return cls(open_index(folder, reuse, full=full), config, stamp)
        except IndexNotFoundError:
            if not create:
                raise
            return cls(None, config, stamp)

    def refreshed(self) -> LocalEngine:
        """This engine, or one on the newer commit another writer made (new segments read,
        loaded ones re-used)."""
        if commit_stamp(self.folder) == self._stamp:
            return self
        return LocalEngine.open(self.config, create=True, reuse=self._segments())

    def load_all(self) -> None:
        """Read every part of the loaded commit now (a serving engine after a write)."""
        if self.index is not None:
            self.index.load_all()

    def _segments(self) -> dict[str, Segment]:
        return {s.name: s for s in self.index.segments} if self.index is not None else {}

    def _loaded(self) -> LoadedIndex:
        if self.index is None:
            return open_index(self.folder)  # raises IndexNotFoundError
        return self.index

    # -- queries ------------------------------------------------------------------------------
    def vocabulary(self, text: str) -> Vocabulary:
        """BM25 coverage of ``text`` and the index's spelling table."""
        index = self._loaded()
        return Vocabulary(index.bm25.coverage(text), index.restore_table)

    def rankings(self, query: Query, vec: np.ndarray | None, n: int,
                 filters: Filters | None, names: Sequence[str]) -> dict[str, list[Passage]]:
        """Dense (FAISS per segment, or exact within a filter) and BM25 rankings."""
        index = self._loaded()
        mask = filter_mask(index, filters)
        rows = {"dense": lambda: dense_ranking(index, vec, n, mask),
                "bm25": lambda: bm25_ranking(index, query.text, n, mask, query.has_marks)}
        return {name: [self._passage(index, r, s) for r, s in rows[name]()] for name in names}

    @staticmethod
    def _passage(index: LoadedIndex, row: int, score: float) -> Passage:
        c = index.chunks[row]
        d = index.documents[c.doc_id]
        return Passage(c.chunk_id, c.doc_id, d.title, d.date, d.source, c.paragraph, c.text,
                       c.start, c.end, score)

    # -- documents ----------------------------------------------------------------------------
    def documents(self, doc_ids: Sequence[str] | None = None) -> list[Document]:
        """Documents by id (a writer reads only these from their segments)."""
        if self.index is None:
            return []
        if doc_ids is None:
            return [self.index.documents[k] for k in sorted(self.index.documents)]
        return self.index.read_documents(doc_ids)

    def document(self, doc_id: str) -> Document | None:
        """One document or None."""
        return self.index.documents.get(doc_id) if self.index is not None else None

    def documents_map(self, doc_ids: Sequence[str]) -> Mapping[str, Document]:
        """All documents (already in memory)."""
        return self.index.documents if self.index is not None else {}

    def counts(self) -> tuple[int, int]:
        """``(documents, chunks)``."""
        if self.index is None:
            return 0, 0
        live = self.index.live_docs
        return len(live), sum(m["chunks"] for _, m in live.values())

    def undated(self, doc_ids: Sequence[str] | None = None) -> int:
        """How many documents (of ``doc_ids``, or all) have no date."""
        return sum(1 for d in self.documents(doc_ids) if not d.date)

    def location(self) -> str:
        """The index folder."""
        return str(self.folder)

    def info(self) -> dict:
        """The current commit: path, format, counts, segments and tombstones."""
        return {"path": str(self.folder), **open_index(self.folder, full=False).manifest}

    def summary(self) -> str:
        """Format, model, counts, segments and vector indexes of the current commit."""
        m = open_index(self.folder, full=False).manifest
        names = {"flat": "exact (flat)", "hnsw": "HNSW"}
        kinds = sorted({names[s["dense"]] for s in m["segments"]})
        return (f"index {self.folder}: format {m['format_version']} (commit "
                f"{m['generation']}), model {m['model_id']} (dim {m['dim']}), "
                f"{m['counts']['documents']} documents, {m['counts']['chunks']} chunks in "
                f"{len(m['segments'])} segments ({m['tombstones']['chunks']} deleted chunks "
                f"not yet merged away), vectors {' + '.join(kinds) or 'none'}")

    # -- writes -------------------------------------------------------------------------------
    def writer(self, fresh: bool = False) -> LocalEngine:
        """A new engine over the commit now on disk (another process may have written one;
        none loaded when ``fresh``); queries on this one keep the commit they see."""
        if fresh:
            engine = LocalEngine(None, self.config)
            engine.fresh = True
            return engine
        return LocalEngine.open(self.config, create=True, full=False, reuse=self._segments())

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the folder's write lock for a whole change, starting from the latest commit;
        on success, merge by the policy and sweep what no commit names."""
        with write_lock(self.folder):
            if not self.fresh:
                latest = LocalEngine.open(self.config, create=True, full=False,
                                          reuse=self._segments())
                self.index, self._stamp = latest.index, latest._stamp
            yield
            self.maintain()

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by embedded-text hash: live rows, and segments a killed build
        wrote but never committed (so a rerun embeds nothing twice)."""
        found = self.index.vectors_by_hash(hashes) if self.index is not None else {}
        missing = [h for h in hashes if h not in found]
        for seg in self._orphans() if missing else ():
            rows = np.flatnonzero(np.isin(seg.hashes, np.asarray(missing, dtype="S32")))
            found.update((seg.hashes[r].decode(), np.asarray(seg.embeddings[r])) for r in rows)
        return found

    def _orphans(self) -> list[Segment]:
        named = set(self.index.commit.segments) if self.index is not None else set()
        named |= {n for n, _ in self._flushed}
        out = []
        for p in sorted(self.folder.glob("seg-*")) if self.folder.is_dir() else ():
            if p.name not in named and (p / SEGMENT_META).is_file():
                try:
                    out.append(Segment(p))
                except (OSError, ValueError):
                    continue
        return out

    def needs_rechunk(self, chunking: ChunkingConfig) -> bool:
        """Whether the loaded commit was chunked with other settings."""
        return self.index is not None and self.index.commit.chunking != asdict(chunking)

    def clear(self) -> None:
        """Stage an empty index (the loaded commit stays until :meth:`commit`)."""
        self._clear, self._drop, self._new = True, set(), []
        self._flushed, self._flushed_dead = [], {}

    def upsert(self, documents: Sequence[Document], chunks: Sequence[Chunk],
               vectors: np.ndarray, texts: Sequence[str]) -> None:
        """Stage ``documents`` with ``chunks`` in place of what they had."""
        self.delete([d.doc_id for d in documents])
        rows: dict[str, list[tuple[Chunk, np.ndarray, str]]] = {d.doc_id: [] for d in documents}
        for c, v, t in zip(chunks, np.asarray(vectors, np.float32), texts, strict=True):
            rows[c.doc_id].append((c, v, t))
        self._new.extend((d, rows[d.doc_id]) for d in documents)

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Stage dropping ``doc_ids``."""
        gone = set(doc_ids)
        self._drop |= gone
        self._new = [(d, rows) for d, rows in self._new if d.doc_id not in gone]
        for name, ids in self._flushed:
            if dead := gone & set(ids):
                self._flushed_dead.setdefault(name, set()).update(dead)

    def flush(self) -> None:
        """Write the staged documents as one new segment (named by the next commit)."""
        if not self._new:
            return
        rows = [r for _, new_rows in self._new for r in new_rows]
        dim = EMBED_DIM if not rows else len(rows[0][1])
        data = SegmentData(tuple(d for d, _ in self._new), tuple(c for c, _, _ in rows),
                           np.stack([v for _, v, _ in rows]) if rows else
                           np.zeros((0, dim), np.float32),
                           tuple(text_hash(t)[:32] for _, _, t in rows),
                           tuple(t for _, _, t in rows))
        name = write_segment(self.folder, data, self.config.vectors, dim)
        self._flushed.append((name, [d.doc_id for d, _ in self._new]))
        self._new = []

    def commit(self) -> None:
        """Flush, then write one new commit: new segments added, replaced and dropped
        documents tombstoned; then load it."""
        self.flush()
        if not (self._clear or self._drop or self._flushed):
            return
        latest = self._latest()
        segments = [] if self._clear else list(latest.segments)
        view = LoadedIndex(self.folder, latest, [self._segment(n) for n in segments])
        deleted = {k: set(v) for k, v in latest.deleted.items()}
        for doc in self._drop:
            if doc in view.live_docs:
                deleted.setdefault(segments[view.live_docs[doc][0]], set()).add(doc)
        for name, dead in self._flushed_dead.items():  # flushed, then replaced or dropped
            deleted.setdefault(name, set()).update(dead)
        self._write(latest, [*segments, *(n for n, _ in self._flushed)], deleted)
        self._clear, self._drop, self._flushed, self._flushed_dead = False, set(), [], {}

    def _latest(self) -> Commit:
        try:
            return read_commit(self.folder)
        except IndexNotFoundError:
            return empty_commit(self.config.chunking)

    def _segment(self, name: str) -> Segment:
        return self._segments().get(name) or Segment(self.folder / name)

    def _write(self, latest: Commit, segments: list[str], deleted: dict[str, set[str]]
               ) -> None:
        """Write the commit (segments whose documents are all deleted left out) and load it."""
        keep = []
        for name in segments:
            docs = self._segment(name).meta["documents"]
            if not set(docs) <= deleted.get(name, set()):
                keep.append(name)
        commit = Commit(latest.generation + 1, tuple(keep),
                        {n: tuple(sorted(deleted[n])) for n in keep if deleted.get(n)},
                        asdict(self.config.chunking))
        write_commit(self.folder, commit)
        reuse = self._segments()
        self._stamp = commit_stamp(self.folder)
        self.index = LoadedIndex(self.folder, commit,
                                 [reuse.get(n) or Segment(self.folder / n) for n in keep])

    # -- merging ------------------------------------------------------------------------------
    def optimize(self) -> list[tuple[str, ...]]:
        """Merge every segment into one, deleted chunks dropped (``hoidap index optimize``)."""
        with self.writing():
            return self.maintain(everything=True)

    def maintain(self, everything: bool = False) -> list[tuple[str, ...]]:
        """Merge segments by the tiered policy (``everything``: into one) and sweep what no
        commit names; returns the groups merged."""
        groups: list[tuple[str, ...]] = []
        while self.index is not None and self.index.segments:
            index = self.index
            sizes = [SegmentSize(s.name, len(rows), s.size)
                     for s, rows in zip(index.segments, index.live_rows, strict=True)]
            if everything:
                todo = [tuple(s.name for s in sizes)] if len(sizes) > 1 or any(
                    s.live < s.total for s in sizes) else []
            else:
                todo = plan_merges(sizes, self.config.segments)
            if not todo:
                break
            for group in todo:
                self._merge(group)
            groups.extend(todo)
        if self.folder.is_dir():
            sweep(self.folder, set(self.index.commit.segments) if self.index else set())
        return groups

    def _merge(self, group: tuple[str, ...]) -> None:
        index = self.index
        assert index is not None
        pos = {s.name: i for i, s in enumerate(index.segments)}
        parts = [(index.segments[pos[n]], index.live_rows[pos[n]],
                  set(index.deleted(index.segments[pos[n]]))) for n in group]
        name = merge_segments(self.folder, parts, self.config.vectors)
        order = [name if s.name == group[0] else s.name for s in index.segments
                 if s.name not in group[1:]]
        deleted = {k: set(v) for k, v in index.commit.deleted.items() if k not in group}
        self._write(index.commit, order, deleted)
