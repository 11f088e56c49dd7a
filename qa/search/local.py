"""The local engine: the saved index folder (FAISS + exact/folded BM25, see ``index.store``).

Every change is a new atomic version of the folder: writes are staged and :meth:`commit`
writes one version with them; queries on an engine object always see the version it loaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict

import numpy as np

from hoidap.config import EMBED_DIM, ChunkingConfig, Config
from hoidap.errors import IndexNotFoundError
from index.chunking import embedding_text
from index.store import (
    IndexData,
    LoadedIndex,
    current_version,
    load_index,
    read_manifest,
    save_index,
)
from index.types import Chunk, Document
from qa.search.fusion import top_k
from qa.search.protocol import Query, Vocabulary
from qa.types import Filters, Passage


def filter_mask(index: LoadedIndex, filters: Filters | None) -> np.ndarray | None:
    """Boolean mask over chunk rows allowed by ``filters`` (None = all rows)."""
    if filters is None or (filters.doc_ids is None and not filters.date_from
                           and not filters.date_to):
        return None
    allowed = set()
    for doc in index.documents.values():
        if filters.doc_ids is not None and doc.doc_id not in filters.doc_ids:
            continue
        if (filters.date_from or filters.date_to) and not doc.date:
            if filters.include_undated:
                allowed.add(doc.doc_id)
            continue
        if filters.date_from and doc.date < filters.date_from:
            continue
        if filters.date_to and doc.date > filters.date_to:
            continue
        allowed.add(doc.doc_id)
    return np.fromiter((c.doc_id in allowed for c in index.chunks), dtype=bool,
                       count=len(index.chunks))


def dense_ranking(index: LoadedIndex, vec: np.ndarray | None, n: int,
                  mask: np.ndarray | None) -> list[tuple[int, float]]:
    """``(row, cosine)`` by similarity to the query vector ``vec``."""
    if not index.chunks:
        return []
    if vec is None:
        raise ValueError("dense ranking needs a query vector")
    q = np.asarray(vec, dtype=np.float32).reshape(1, -1)
    if mask is None:
        scores, ids = index.dense.search(q, min(n, len(index.chunks)))  # type: ignore[attr-defined]
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
    rows = np.flatnonzero(mask)
    sims = np.asarray(index.embeddings[rows]) @ q[0]
    order = np.argsort(-sims, kind="stable")[:n]
    return [(int(rows[i]), float(sims[i])) for i in order]


def bm25_ranking(index: LoadedIndex, text: str, n: int, mask: np.ndarray | None,
                 exact: bool) -> list[tuple[int, float]]:
    """``(row, score)`` by exact + folded BM25 (folded only unless ``exact``), only rows
    sharing a term."""
    scores = index.bm25.scores(text, exact)
    return [(int(i), float(scores[i])) for i in top_k(scores, n, mask)]


class LocalEngine:
    """A loaded index version (None: no index yet) and the writes staged on top of it."""

    name = "local"

    def __init__(self, index: LoadedIndex | None, config: Config) -> None:
        self.index = index
        self.config = config
        self._clear = False
        self._drop: set[str] = set()
        self._new: list[tuple[Document, list[tuple[Chunk, np.ndarray, str]]]] = []

    @classmethod
    def open(cls, config: Config, *, create: bool = False) -> LocalEngine:
        """The active version of the configured folder; ``create``: none is fine (empty)."""
        try:
            return cls(load_index(config.resolved_index_dir), config)
        except IndexNotFoundError:
            if not create:
                raise
            return cls(None, config)

    def _loaded(self) -> LoadedIndex:
        if self.index is None:
            return load_index(self.config.resolved_index_dir)  # raises IndexNotFoundError
        return self.index

    # -- queries ------------------------------------------------------------------------------
    def vocabulary(self, text: str) -> Vocabulary:
        """BM25 coverage of ``text`` and the index's restore table."""
        index = self._loaded()
        return Vocabulary(index.bm25.coverage(text), index.restore_table)

    def rankings(self, query: Query, vec: np.ndarray | None, n: int,
                 filters: Filters | None, names: Sequence[str]) -> dict[str, list[Passage]]:
        """Dense (FAISS, or exact within a filter) and BM25 rankings of the loaded version."""
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
        """Documents by id."""
        docs = self.index.documents if self.index is not None else {}
        keys = sorted(docs) if doc_ids is None else sorted(set(doc_ids) & set(docs))
        return [docs[k] for k in keys]

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
        return len(self.index.documents), len(self.index.chunks)

    def undated(self, doc_ids: Sequence[str] | None = None) -> int:
        """How many documents (of ``doc_ids``, or all) have no date."""
        return sum(1 for d in self.documents(doc_ids) if not d.date)

    def location(self) -> str:
        """The index folder."""
        return str(self.config.resolved_index_dir)

    def info(self) -> dict:
        """The active version's path and manifest."""
        folder = self.config.resolved_index_dir
        return {"path": str(current_version(folder)), **read_manifest(folder)}

    def summary(self) -> str:
        """Format, model, counts and vector index of the active version."""
        manifest = read_manifest(self.config.resolved_index_dir)
        counts = manifest["counts"]
        dense = manifest.get("dense", {"kind": "flat"})
        vectors = "exact (flat)" if dense["kind"] == "flat" else \
            f"HNSW (M {dense['m']}, efSearch {dense['ef_search']})"
        return (f"index {self.config.resolved_index_dir}: format {manifest['format_version']}, "
                f"model {manifest['model_id']} (dim {manifest['dim']}), "
                f"{counts['documents']} documents, {counts['chunks']} chunks, "
                f"vectors {vectors}")

    # -- writes -------------------------------------------------------------------------------
    def writer(self, fresh: bool = False) -> LocalEngine:
        """A new engine over the version now on disk (another process may have written
        one; none loaded when ``fresh``); queries on this one keep the version they see."""
        return LocalEngine(None, self.config) if fresh else LocalEngine.open(self.config,
                                                                            create=True)

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of the loaded version by embedded-text hash."""
        if self.index is None:
            return {}
        wanted = set(hashes)
        return {h: np.asarray(self.index.embeddings[i]) for i, h in
                enumerate(self.index.embed_hashes) if h in wanted}

    def needs_rechunk(self, chunking: ChunkingConfig) -> bool:
        """Whether the loaded version was chunked with other settings."""
        return self.index is not None and self.index.manifest.get("chunking") != asdict(chunking)

    def clear(self) -> None:
        """Stage an empty index (the loaded version stays until :meth:`commit`)."""
        self._clear, self._drop, self._new = True, set(), []

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

    def commit(self) -> None:
        """Write one new version with the staged changes, then load it."""
        if not (self._clear or self._drop or self._new):
            return
        folder = self.config.resolved_index_dir
        save_index(folder, self._staged())
        self.index = load_index(folder)
        self._clear, self._drop, self._new = False, set(), []

    def _staged(self) -> IndexData:
        """The loaded version with the staged changes, in document-id order."""
        old = None if self._clear else self.index
        docs = {} if old is None else {k: v for k, v in old.documents.items()
                                       if k not in self._drop}
        rows: dict[str, list[tuple[Chunk, np.ndarray, str]]] = {}
        if old is not None:
            for i, c in enumerate(old.chunks):
                if c.doc_id in docs:
                    text = embedding_text(docs[c.doc_id], c)
                    rows.setdefault(c.doc_id, []).append((c, old.embeddings[i], text))
        for doc, new_rows in self._new:
            docs[doc.doc_id] = doc
            rows[doc.doc_id] = new_rows
        ordered = [r for k in sorted(docs) for r in rows.get(k, [])]
        dim = self.index.embeddings.shape[1] if self.index is not None else EMBED_DIM
        vectors = np.stack([np.asarray(v, np.float32) for _, v, _ in ordered]) if ordered \
            else np.zeros((0, dim), np.float32)
        return IndexData(tuple(docs[k] for k in sorted(docs)), tuple(c for c, _, _ in ordered),
                         vectors, tuple(t for _, _, t in ordered), self.config.chunking,
                         vectors=self.config.vectors)
