"""The search-engine seam: where chunks live and how they are ranked.

``local`` (the default) is the saved index folder (FAISS + BM25, see ``index.store``) searched
by :class:`qa.retrieve.Retriever`; ``milvus`` keeps everything in Milvus collections and ranks
inside Milvus (``index.milvus_backend``). Both are used through :class:`SearchBackend`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from hoidap.config import Config
from hoidap.errors import InputError
from index.store import IndexData, LoadedIndex, load_index, save_index
from index.types import Chunk, Document
from qa.retrieve import Mode, Retriever
from qa.types import Filters, Passage

ENGINES: tuple[str, ...] = ("local", "milvus")


class SearchBackend(Protocol):
    """What the engine needs from a search engine."""

    def upsert(self, documents: Sequence[Document], chunks: Sequence[Chunk],
               vectors: np.ndarray, texts: Sequence[str]) -> None:
        """Store ``documents``, replacing every chunk they had by ``chunks`` (row i of
        ``vectors`` and ``texts``, the embedded text, belong to ``chunks[i]``)."""

    def remove(self, doc_ids: Sequence[str]) -> None:
        """Drop documents and their chunks."""

    def rank(self, query: str, query_vec: np.ndarray | None, k: int,
             filters: Filters | None = None, mode: Mode = "hybrid") -> list[Passage]:
        """Top-``k`` passages, score in [0, 1]; ``query_vec`` embeds :meth:`restored` ``(query)``
        (None for ``mode="bm25"``)."""

    def restored(self, query: str) -> str:
        """``query`` with diacritics put back from the corpus when typed without them."""

    def documents(self, doc_ids: Sequence[str] | None = None) -> list[Document]:
        """Stored documents (all, or those of ``doc_ids`` that exist), by id."""

    def document(self, doc_id: str) -> Document | None:
        """One stored document, or None."""

    def documents_map(self, doc_ids: Sequence[str]) -> Mapping[str, Document]:
        """At least the documents of ``doc_ids`` by id (what the reader looks up)."""

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks whose embedded-text hash is in ``hashes``."""

    def counts(self) -> tuple[int, int]:
        """``(documents, chunks)`` stored."""

    def undated(self, doc_ids: Sequence[str] | None = None) -> int:
        """How many stored documents (of ``doc_ids``, or all) have no date."""


class _FixedEncoder:
    """Hands the retriever a query vector computed elsewhere."""

    def __init__(self, vec: np.ndarray | None) -> None:
        self.vec = vec

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self.vec is None:
            raise ValueError("dense ranking needs a query vector")
        return np.asarray(self.vec, dtype=np.float32).reshape(1, -1)


class LocalBackend:
    """The saved index folder (FAISS + exact/folded BM25): a thin adapter over the store and
    :class:`Retriever`. Writes go through new atomic versions of the folder."""

    def __init__(self, index: LoadedIndex, config: Config) -> None:
        self.index = index
        self.config = config

    @classmethod
    def open(cls, config: Config) -> LocalBackend:
        """Load the active version of the configured index folder."""
        return cls(load_index(config.resolved_index_dir), config)

    def _retriever(self, vec: np.ndarray | None) -> Retriever:
        return Retriever(self.index, _FixedEncoder(vec), self.config.retrieval)

    def rank(self, query: str, query_vec: np.ndarray | None, k: int,
             filters: Filters | None = None, mode: Mode = "hybrid") -> list[Passage]:
        """Top-``k`` passages by the retriever's weighted RRF."""
        return self._retriever(query_vec).search(query, k, filters, mode)

    def restored(self, query: str) -> str:
        """See :meth:`Retriever.restored`."""
        return self._retriever(None).restored(query)

    def documents(self, doc_ids: Sequence[str] | None = None) -> list[Document]:
        """Documents by id."""
        docs = self.index.documents
        keys = sorted(docs) if doc_ids is None else sorted(set(doc_ids) & set(docs))
        return [docs[k] for k in keys]

    def document(self, doc_id: str) -> Document | None:
        """One document or None."""
        return self.index.documents.get(doc_id)

    def documents_map(self, doc_ids: Sequence[str]) -> Mapping[str, Document]:
        """All documents (already in memory)."""
        return self.index.documents

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Vectors of the current version by embedded-text hash."""
        wanted = set(hashes)
        return {h: np.asarray(self.index.embeddings[i]) for i, h in
                enumerate(self.index.embed_hashes) if h in wanted}

    def counts(self) -> tuple[int, int]:
        """``(documents, chunks)``."""
        return len(self.index.documents), len(self.index.chunks)

    def undated(self, doc_ids: Sequence[str] | None = None) -> int:
        """How many documents (of ``doc_ids``, or all) have no date."""
        return sum(1 for d in self.documents(doc_ids) if not d.date)

    def upsert(self, documents: Sequence[Document], chunks: Sequence[Chunk],
               vectors: np.ndarray, texts: Sequence[str]) -> None:
        """Write a new version with ``documents`` replaced (their old chunks dropped)."""
        self._rewrite({d.doc_id for d in documents}, documents, chunks, vectors, texts)

    def remove(self, doc_ids: Sequence[str]) -> None:
        """Write a new version without ``doc_ids``."""
        self._rewrite(set(doc_ids), (), (), np.zeros((0, self.index.embeddings.shape[1]),
                                                     np.float32), ())

    def _rewrite(self, drop: set[str], documents: Sequence[Document], chunks: Sequence[Chunk],
                 vectors: np.ndarray, texts: Sequence[str]) -> None:
        old = self.index
        docs = {k: v for k, v in old.documents.items() if k not in drop}
        docs.update({d.doc_id: d for d in documents})
        keep = [i for i, c in enumerate(old.chunks) if c.doc_id not in drop]
        old_texts = _embed_texts(old, keep)
        new_rows = [*((old.chunks[i], t) for i, t in zip(keep, old_texts, strict=True)),
                    *zip(chunks, texts, strict=True)]
        all_vecs = np.concatenate([np.asarray(old.embeddings[keep], np.float32),
                                   np.asarray(vectors, np.float32)])
        order = sorted(range(len(new_rows)), key=lambda i: new_rows[i][0].doc_id)  # stable
        data = IndexData(tuple(docs[k] for k in sorted(docs)),
                         tuple(new_rows[i][0] for i in order), all_vecs[order],
                         tuple(new_rows[i][1] for i in order), self.config.chunking,
                         vectors=self.config.vectors)
        save_index(self.config.resolved_index_dir, data)
        self.index = load_index(self.config.resolved_index_dir)


def _embed_texts(index: LoadedIndex, rows: Sequence[int]) -> list[str]:
    """The embedded text of each chunk row (title/date header + chunk text)."""
    from index.chunking import embedding_text

    return [embedding_text(index.documents[index.chunks[i].doc_id], index.chunks[i])
            for i in rows]


def check_engine(name: str) -> str:
    """``name`` if it is a known engine, else an :class:`InputError` naming the choices."""
    if name not in ENGINES:
        raise InputError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)} "
                         "(--engine or HOIDAP_ENGINE)")
    return name


def open_backend(config: Config, *, create: bool = False) -> SearchBackend:
    """The configured engine's backend; ``create`` makes an empty Milvus collection set."""
    if check_engine(config.engine) == "local":
        return LocalBackend.open(config)
    from index.milvus_backend import MilvusBackend

    return MilvusBackend.open(config, create=create)
