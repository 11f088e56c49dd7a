"""Milvus as the search engine: chunks, metadata and vectors in collections, ranked inside.

Three collections share a prefix (``Config.milvus_collection``, default ``hoidap``):

* ``<p>_chunks`` -- one row per chunk: metadata, the embedded text, its vector (HNSW, inner
  product) and a BM25 sparse vector that a Milvus BM25 Function computes from ``bm25``.
* ``<p>_docs`` -- the documents' cleaned text, split in parts that fit a VARCHAR.
* ``<p>_terms`` -- how often each syllable and syllable pair occurs (restores diacritics on
  queries typed without them, and tells how much of a query the corpus knows).

The ``bm25`` field holds our own escaped tokens (:mod:`.escape`): BM25 over that one field
equals the local engine's exact + folded BM25 sum (the length ratio to the average is
unchanged), and a query without diacritics is sent as folded tokens only. Milvus returns the
dense and the BM25 ranking; they are fused with every engine's weighted RRF
(:func:`qa.search.fusion.fuse`). Raw BM25 scores (negative in milvus-lite) only rank.
Writes land as they are made (queries see them at once); :meth:`MilvusEngine.commit` seals
them into indexed segments.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from hoidap.config import EMBED_DIM, ChunkingConfig, Config
from hoidap.errors import IndexNotFoundError, IndexVersionError
from index.bm25 import folded_tokens
from index.restore import grams
from index.text import fold
from index.types import Chunk, Document
from qa.search.milvus.escape import bm25_query, filter_expr, in_expr
from qa.search.milvus.schema import (
    CHUNK_FIELDS,
    DOC_FIELDS,
    DOC_SCHEMA,
    TERM_SCHEMA,
    chunk_row,
    chunks_schema,
    connect,
    doc_rows,
    passage_of,
    side_schema,
)
from qa.search.milvus.terms import merge_spellings, restore_table, term_delta
from qa.search.protocol import Query, Vocabulary
from qa.types import Filters, Passage

BATCH = 500  # ids per "in" filter, rows per insert


class MilvusEngine:
    """A :class:`qa.search.SearchEngine` stored in (and ranked by) Milvus."""

    name = "milvus"

    def __init__(self, client: Any, config: Config) -> None:
        self.client = client
        self.config = config
        prefix = config.milvus_collection
        self.chunks_c, self.docs_c, self.terms_c = (f"{prefix}_chunks", f"{prefix}_docs",
                                                    f"{prefix}_terms")

    @classmethod
    def open(cls, config: Config, *, create: bool = False) -> MilvusEngine:
        """Connect; ``create`` makes missing collections, else a missing one is an error."""
        engine = cls(connect(config.resolved_milvus_uri, os.environ.get("HOIDAP_MILVUS_TOKEN")),
                     config)
        engine._ensure(create)
        return engine

    def close(self) -> None:
        """Close the connection."""
        self.client.close()

    # -- collections --------------------------------------------------------------------------
    def _ensure(self, create: bool) -> None:
        missing = [c for c in (self.chunks_c, self.docs_c, self.terms_c)
                   if not self.client.has_collection(c)]
        if missing and not create:
            uri = self.config.resolved_milvus_uri
            raise IndexNotFoundError(
                f"no Milvus collection {missing[0]} at {uri}: build one with: hoidap index "
                f"build PATH... --engine milvus --milvus-uri {uri}")
        schemas = {self.chunks_c: lambda: chunks_schema(self.client, EMBED_DIM),
                   self.docs_c: lambda: side_schema(self.client, DOC_SCHEMA, ["doc_id"]),
                   self.terms_c: lambda: side_schema(self.client, TERM_SCHEMA, [])}
        for name in missing:
            schema, index_params = schemas[name]()
            self.client.create_collection(name, schema=schema, index_params=index_params,
                                          consistency_level="Strong")
        for name in schemas:  # a reopened (or restarted) Milvus starts with them released
            self.client.load_collection(name)
        self._check_dim()

    def _check_dim(self) -> None:
        info = self.client.describe_collection(self.chunks_c)
        dims = [f.get("params", {}).get("dim") for f in info.get("fields", [])
                if f.get("name") == "vec"]
        if dims and int(dims[0]) != EMBED_DIM:
            raise IndexVersionError(
                f"Milvus collection {self.chunks_c} holds {dims[0]}-d vectors, this hoidap "
                f"uses {EMBED_DIM}; rebuild with: hoidap index build --fresh --engine milvus")

    def clear(self) -> None:
        """Drop and recreate every collection (``--fresh``)."""
        for name in (self.chunks_c, self.docs_c, self.terms_c):
            self.client.drop_collection(name)
        self._ensure(create=True)

    # -- low-level I/O ----------------------------------------------------------------------
    def _query_in(self, collection: str, field: str, values: Sequence[str],
                  fields: Sequence[str]) -> list[dict]:
        out: list[dict] = []
        for batch in _batches(list(dict.fromkeys(values))):
            out.extend(self.client.query(collection, filter=in_expr(field, batch),
                                         output_fields=list(fields), limit=16384))
        return out

    def _query_all(self, collection: str, expr: str, fields: Sequence[str]) -> list[dict]:
        rows: list[dict] = []
        with _quiet_timestamp_fallback():
            it = self.client.query_iterator(collection, batch_size=1000, filter=expr,
                                            output_fields=list(fields))
            try:
                while batch := it.next():
                    rows.extend(batch)
            finally:
                it.close()
        return rows

    def _insert(self, collection: str, rows: Sequence[dict]) -> None:
        for batch in _batches(rows):
            self.client.insert(collection, list(batch))

    def _delete_in(self, collection: str, field: str, values: Sequence[str]) -> None:
        for batch in _batches(list(values)):
            self.client.delete(collection, filter=in_expr(field, batch))

    def _count(self, collection: str, expr: str = "") -> int:
        rows = self.client.query(collection, filter=expr, output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    # -- writes -----------------------------------------------------------------------------
    def upsert(self, documents: Sequence[Document], chunks: Sequence[Chunk],
               vectors: np.ndarray, texts: Sequence[str]) -> None:
        """Replace ``documents`` and all their chunks."""
        by_id = {d.doc_id: d for d in documents}
        rows = [chunk_row(by_id[c.doc_id], c, t, v)
                for c, t, v in zip(chunks, texts, np.asarray(vectors), strict=True)]
        old_texts = self._drop(list(by_id))
        self._insert(self.docs_c, [r for d in documents for r in doc_rows(d)])
        self._insert(self.chunks_c, rows)
        self._count_terms(old_texts, texts)

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Drop documents and their chunks."""
        self._count_terms(self._drop(list(doc_ids)), ())

    @contextmanager
    def writing(self) -> Iterator[None]:
        """A whole change (Milvus orders concurrent writes itself)."""
        yield

    def flush(self) -> None:
        """Nothing to do: an upsert is applied as it comes (sealed at :meth:`commit`)."""

    def refreshed(self) -> MilvusEngine:
        """This engine: Milvus serves every write as it lands."""
        return self

    def commit(self) -> None:
        """Seal what was written into indexed segments (once per write, not per batch:
        unflushed rows are scanned without indexes, ~20x slower in milvus-lite)."""
        for name in (self.chunks_c, self.docs_c, self.terms_c):
            self.client.flush(name)

    def _drop(self, doc_ids: Sequence[str]) -> list[str]:
        """Delete the documents' rows; returns the embedded texts of their old chunks."""
        if not doc_ids:
            return []
        old = self._query_in(self.chunks_c, "doc_id", doc_ids, ["embed_text"])
        self._delete_in(self.chunks_c, "doc_id", doc_ids)
        self._delete_in(self.docs_c, "doc_id", doc_ids)
        return [r["embed_text"] for r in old]

    def _count_terms(self, old_texts: Sequence[str], new_texts: Sequence[str]) -> None:
        """Move the term counts from ``old_texts`` to ``new_texts``."""
        by_key = term_delta(old_texts, new_texts)
        if not by_key:
            return
        current = {r["id"]: json.loads(r["spellings"]) for r in  # primary-key lookups: fast
                   self._query_in(self.terms_c, "id", list(by_key), ["spellings"])}
        new, changed, gone = [], [], []
        for key, change in by_key.items():
            counts = merge_spellings(current.get(key, {}), change)
            row = {"id": key, "spellings": json.dumps(counts, ensure_ascii=False),
                   "dummy": [1.0, 0.0]}
            if counts:
                (changed if key in current else new).append(row)
            elif key in current:
                gone.append(key)
        self._insert(self.terms_c, new)
        for batch in _batches(changed):
            self.client.upsert(self.terms_c, list(batch))
        self._delete_in(self.terms_c, "id", gone)

    # -- reads ------------------------------------------------------------------------------
    def documents(self, doc_ids: Sequence[str] | None = None) -> list[Document]:
        """Stored documents (all, or those of ``doc_ids`` that exist), by id."""
        rows = (self._query_all(self.docs_c, "", DOC_FIELDS) if doc_ids is None
                else self._query_in(self.docs_c, "doc_id", doc_ids, DOC_FIELDS))
        parts: dict[str, list[dict]] = {}
        for r in rows:
            parts.setdefault(r["doc_id"], []).append(r)
        docs = []
        for doc_id in sorted(parts):
            ps = sorted(parts[doc_id], key=lambda r: int(r["part"]))
            first = ps[0]
            docs.append(Document(doc_id, first["title"], first["date"] or None, first["source"],
                                 "".join(p["text"] for p in ps), first["content_hash"]))
        return docs

    def document(self, doc_id: str) -> Document | None:
        """One document or None."""
        found = self.documents([doc_id])
        return found[0] if found else None

    def documents_map(self, doc_ids: Sequence[str]) -> Mapping[str, Document]:
        """The documents of ``doc_ids`` by id."""
        return {d.doc_id: d for d in self.documents(doc_ids)}

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors by embedded-text hash."""
        rows = self._query_in(self.chunks_c, "embed_hash", hashes, ["embed_hash", "vec"])
        return {r["embed_hash"]: np.asarray(r["vec"], dtype=np.float32) for r in rows}

    def counts(self) -> tuple[int, int]:
        """``(documents, chunks)``."""
        return self._count(self.docs_c, "part == 0"), self._count(self.chunks_c)

    def undated(self, doc_ids: Sequence[str] | None = None) -> int:
        """How many stored documents (of ``doc_ids``, or all) have no date."""
        expr = 'part == 0 and date == ""'
        if doc_ids is not None:
            if not doc_ids:
                return 0
            expr += " and " + in_expr("doc_id", doc_ids)
        return self._count(self.docs_c, expr)

    def location(self) -> str:
        """The Milvus URI."""
        return self.config.resolved_milvus_uri

    def info(self) -> dict:
        """Engine, URI, collection prefix and counts."""
        docs, chunks = self.counts()
        return {"engine": self.name, "uri": self.location(),
                "collection": self.config.milvus_collection, "documents": docs,
                "chunks": chunks}

    def summary(self) -> str:
        """One line: engine, URI, collection prefix and counts."""
        info = self.info()
        return (f"{self.name} {info['uri']} ({info['collection']}): {info['documents']} "
                f"documents, {info['chunks']} chunks")

    def writer(self, fresh: bool = False) -> MilvusEngine:
        """This engine: Milvus applies writes in place."""
        return self

    def needs_rechunk(self, chunking: ChunkingConfig) -> bool:
        """Never: Milvus does not record the chunking settings."""
        return False

    # -- queries ------------------------------------------------------------------------------
    def vocabulary(self, text: str) -> Vocabulary:
        """``<p>_terms`` rows of the text's folded syllables and pairs (one look-up): the
        share of its folded syllables the corpus holds and their spellings."""
        keys = [fold(g) for g in grams(text)]
        rows = self._query_in(self.terms_c, "id", keys, ["spellings"]) if keys else []
        toks = folded_tokens(text)
        known = {r["id"] for r in rows}
        coverage = sum(t in known for t in toks) / len(toks) if toks else 0.0
        return Vocabulary(coverage, restore_table(rows))

    def rankings(self, query: Query, vec: np.ndarray | None, n: int,
                 filters: Filters | None, names: Sequence[str]) -> dict[str, list[Passage]]:
        """Dense (HNSW) and BM25 rankings from Milvus."""
        expr = filter_expr(filters)
        search = {"dense": lambda: self._dense(vec, n, expr),
                  "bm25": lambda: self._bm25(query, n, expr)}
        return {name: search[name]() for name in names}

    def _dense(self, vec: np.ndarray | None, n: int, expr: str) -> list[Passage]:
        if vec is None:
            raise ValueError("dense ranking needs a query vector")
        data = [np.asarray(vec, dtype=np.float32).reshape(-1).tolist()]
        return self._search(data, "vec", n, expr,
                            {"metric_type": "IP", "params": {"ef": max(2 * n, 64)}})

    def _bm25(self, query: Query, n: int, expr: str) -> list[Passage]:
        text = bm25_query(query.text, exact=query.has_marks)
        return self._search([text], "sparse", n, expr, {"metric_type": "BM25"}) if text else []

    def _search(self, data: list, field: str, n: int, expr: str,
                params: Mapping[str, Any]) -> list[Passage]:
        hits = self.client.search(self.chunks_c, data=data, anns_field=field, limit=n,
                                  filter=expr, search_params=dict(params),
                                  output_fields=CHUNK_FIELDS)
        return [passage_of(h["entity"], h["id"], float(h["distance"])) for h in hits[0]]


@contextmanager
def _quiet_timestamp_fallback() -> Iterator[None]:
    """milvus-lite lacks AllocTimestamp: its in-process server logs an error and pymilvus a
    warning before falling back to a client-side timestamp. Hide that noise."""
    loggers = [logging.getLogger(n) for n in ("grpc._server", "pymilvus")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]
