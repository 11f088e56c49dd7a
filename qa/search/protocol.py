"""The values that flow into a search engine (:class:`Query`, :class:`Vocabulary`) and what
every engine implements: the read side question answering uses, and the one write side
(:func:`qa.search.write.write_documents`) every change goes through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hoidap.config import ChunkingConfig
from index.types import Chunk, Document
from qa.types import Filters, Passage


@dataclass(frozen=True)
class Vocabulary:
    """What an engine's corpus knows of a text: the share of its folded syllables it holds,
    and folded syllable (or pair) -> the corpus's accented spelling."""

    coverage: float
    table: Mapping[str, str]


@dataclass(frozen=True)
class Query:
    """One question as every stage sees it: ``typed`` (as asked), ``text`` (normalised:
    NFC, one tone placement), ``restored`` (``text`` with the corpus's diacritics put back
    when it was typed without them and is mostly the corpus's syllables), ``has_marks``
    and ``coverage`` (share of its folded syllables the corpus holds)."""

    typed: str
    text: str
    restored: str
    has_marks: bool
    coverage: float


class SearchEngine(Protocol):
    """Where chunks live and how they are ranked (``qa.search.ENGINES`` lists them).

    Reads: :meth:`rankings` gives raw rankings, best first, at most ``n`` each, for each of
    ``names``: ``"dense"`` by ``vec`` (the embedding of ``query.restored``), ``"bm25"`` by
    exact + folded BM25 of ``query.text`` (folded only without ``query.has_marks``).
    Writes (:func:`qa.search.write.write_documents`): ``upsert`` stores documents in place of
    every chunk they had (row i of ``vectors`` and ``texts``, the embedded text, belong to
    ``chunks[i]``); writes are searchable at :meth:`commit` at the latest; :meth:`writer` is
    the engine to write a change into (queries on ``self`` never see a half-done change;
    ``fresh``: one that will be cleared first); :meth:`flush` stores the staged writes without
    making them visible, :meth:`writing` brackets a whole change, :meth:`refreshed` is the
    engine on the newest commit (another process may have written one).
    """

    name: str  # the engine's key in ENGINES

    def vocabulary(self, text: str) -> Vocabulary: ...
    def rankings(self, query: Query, vec: np.ndarray | None, n: int,
                 filters: Filters | None, names: Sequence[str]) -> dict[str, list[Passage]]: ...
    def documents(self, doc_ids: Sequence[str] | None = None) -> list[Document]: ...
    def document(self, doc_id: str) -> Document | None: ...
    def documents_map(self, doc_ids: Sequence[str]) -> Mapping[str, Document]: ...
    def counts(self) -> tuple[int, int]: ...  # (documents, chunks)
    def undated(self, doc_ids: Sequence[str] | None = None) -> int: ...
    def location(self) -> str: ...  # a folder, a Milvus URI: for people
    def info(self) -> dict: ...  # what ``hoidap index info --json`` prints
    def summary(self) -> str: ...  # the line ``hoidap index info`` prints
    def writer(self, fresh: bool = False) -> SearchEngine: ...
    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...
    def needs_rechunk(self, chunking: ChunkingConfig) -> bool: ...
    def clear(self) -> None: ...
    def upsert(self, documents: Sequence[Document], chunks: Sequence[Chunk],
               vectors: np.ndarray, texts: Sequence[str]) -> None: ...
    def delete(self, doc_ids: Sequence[str]) -> None: ...
    def flush(self) -> None: ...  # staged writes stored (searchable from the next commit)
    def commit(self) -> None: ...
    def writing(self) -> AbstractContextManager[None]: ...  # one whole change (write lock)
    def refreshed(self) -> SearchEngine: ...  # self, or one on a newer commit
