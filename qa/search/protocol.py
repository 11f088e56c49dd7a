"""What every search engine implements: the read side the question answering uses, and the
one write side (:func:`qa.search.write.write_documents`) every change goes through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from hoidap.config import ChunkingConfig
from index.types import Chunk, Document
from qa.search.query import Query, Vocabulary
from qa.types import Filters, Passage


class SearchEngine(Protocol):
    """Where chunks live and how they are ranked (``qa.search.ENGINES`` lists them)."""

    name: str  # the engine's key in ENGINES

    # -- queries ------------------------------------------------------------------------------
    def vocabulary(self, text: str) -> Vocabulary:
        """What the corpus knows of ``text``'s syllables (see :func:`qa.search.make_query`)."""

    def rankings(self, query: Query, vec: np.ndarray | None, n: int,
                 filters: Filters | None, names: Sequence[str]) -> dict[str, list[Passage]]:
        """Raw rankings, best first, at most ``n`` each, for each of ``names`` (``"dense"``:
        by ``vec``, the embedding of ``query.restored``; ``"bm25"``: exact + folded BM25 of
        ``query.text``, folded only without ``query.has_marks``); scores are the raw ones."""

    # -- documents ----------------------------------------------------------------------------
    def documents(self, doc_ids: Sequence[str] | None = None) -> list[Document]:
        """Stored documents (all, or those of ``doc_ids`` that exist), by id."""

    def document(self, doc_id: str) -> Document | None:
        """One stored document, or None."""

    def documents_map(self, doc_ids: Sequence[str]) -> Mapping[str, Document]:
        """At least the documents of ``doc_ids`` by id (what the reader looks up)."""

    def counts(self) -> tuple[int, int]:
        """``(documents, chunks)`` stored."""

    def undated(self, doc_ids: Sequence[str] | None = None) -> int:
        """How many stored documents (of ``doc_ids``, or all) have no date."""

    def location(self) -> str:
        """Where the engine keeps its data (a folder, a Milvus URI), for people."""

    def info(self) -> dict:
        """What ``hoidap index info --json`` prints."""

    def summary(self) -> str:
        """The one line ``hoidap index info`` prints."""

    # -- writes -------------------------------------------------------------------------------
    def writer(self) -> SearchEngine:
        """The engine to write a change into: queries on ``self`` never see a half-done
        change (a new object over the same data where writes make new versions)."""

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of chunks whose embedded-text hash is in ``hashes``."""

    def needs_rechunk(self, chunking: ChunkingConfig) -> bool:
        """Whether stored chunks were cut with other settings than ``chunking``."""

    def clear(self) -> None:
        """Drop every document."""

    def upsert(self, documents: Sequence[Document], chunks: Sequence[Chunk],
               vectors: np.ndarray, texts: Sequence[str]) -> None:
        """Store ``documents``, replacing every chunk they had by ``chunks`` (row i of
        ``vectors`` and ``texts``, the embedded text, belong to ``chunks[i]``)."""

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Drop documents and their chunks."""

    def commit(self) -> None:
        """Make the writes so far durable and searchable (at the latest now)."""
