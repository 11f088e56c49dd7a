"""Milvus as the search engine: chunks, metadata and vectors in collections, hybrid search inside.

Three collections share a prefix (``Config.milvus_collection``, default ``hoidap``):

* ``<p>_chunks`` -- one row per chunk: metadata, the embedded text, its vector (HNSW, inner
  product) and a BM25 sparse vector that a Milvus BM25 Function computes from ``bm25``.
* ``<p>_docs`` -- the documents' cleaned text, split in parts that fit a VARCHAR.
* ``<p>_terms`` -- how often each syllable and syllable pair occurs (restores diacritics on
  queries typed without them, and tells how much of a query the corpus knows).

Milvus never sees raw text in ``bm25``: it holds our own tokens (NFC, canonical tone
placement, lowercase; see ``index.text``), the exact ones followed by the folded ones with
a ``_f`` prefix, each escaped so Milvus's ``standard`` tokenizer keeps it whole. BM25 over that
one field equals the local engine's exact + folded BM25 sum (the length ratio to the average is
unchanged), and a query without diacritics is sent as folded tokens only. Hybrid search runs
in Milvus (dense + BM25 fused by ``RRFRanker``); when the two rankings get different weights
(see ``qa.fusion.fusion_weights``) both are fetched from Milvus and fused by weighted RRF here.
Raw BM25 scores (negative in milvus-lite) are only used to rank.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from hoidap.config import EMBED_DIM, Config
from hoidap.errors import IndexNotFoundError, IndexStateError, IndexVersionError, InputError
from index.bm25 import exact_tokens, folded_tokens
from index.restore import QUESTION_WORDS, Table, restore
from index.store import text_hash
from index.text import fold, has_marks, normalize, token_spans
from index.types import Chunk, Document
from qa.fusion import fusion_weights, max_rrf, rrf
from qa.retrieve import MIN_COVERAGE, Mode
from qa.types import Filters, Passage

MAX_BYTES = 65535  # Milvus VARCHAR limit
PART_BYTES = 60000  # document text per row of <p>_docs
MAX_GRAM_BYTES = 1000
BATCH = 500  # ids per "in" filter, rows per insert
_ESCAPES = (("_", "_u"), (".", "_d"), (",", "_c"), ("/", "_s"))
CHUNK_FIELDS = ["doc_id", "title", "date", "source", "paragraph", "start", "end", "embed_text"]
DOC_FIELDS = ["doc_id", "part", "title", "date", "source", "content_hash", "text"]


# -- pure helpers ---------------------------------------------------------------------------
def encode_token(tok: str) -> str:
    """A token Milvus's standard tokenizer keeps whole (``"3,5"`` -> ``"3_c5"``); injective."""
    for old, new in _ESCAPES:
        tok = tok.replace(old, new)
    return tok


def bm25_text(text: str) -> str:
    """What the BM25 field holds for ``text``: exact tokens, then ``_f``-prefixed folded ones."""
    exact = [encode_token(t) for t in exact_tokens(text)]
    folded = ["_f" + encode_token(t) for t in folded_tokens(text)]
    return " ".join([*exact, *folded])


def bm25_query(query: str, exact: bool) -> str:
    """The BM25 query for ``query``: folded tokens, plus the exact ones when ``exact``."""
    folded = ["_f" + encode_token(t) for t in folded_tokens(query)]
    return " ".join([*(encode_token(t) for t in exact_tokens(query) if exact), *folded])


def grams(text: str) -> list[str]:
    """Lowercase syllables and adjacent syllable pairs of ``text`` (as ``build_table`` counts)."""
    toks = [t for t, _, _ in token_spans(text)]
    return [*toks, *(f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False))]


def split_utf8(text: str, max_bytes: int = PART_BYTES) -> list[str]:
    """``text`` in consecutive parts of at most ``max_bytes`` UTF-8 bytes (at least one part)."""
    parts, start, size = [], 0, 0
    for i, ch in enumerate(text):
        n = len(ch.encode("utf-8"))
        if size + n > max_bytes:
            parts.append(text[start:i])
            start, size = i, 0
        size += n
    parts.append(text[start:])
    return parts


def quote(value: str) -> str:
    """A Milvus string literal."""
    return json.dumps(value, ensure_ascii=False)


def in_expr(field: str, values: Sequence[str]) -> str:
    """``field in ["a", "b"]``."""
    return f"{field} in [{', '.join(quote(v) for v in values)}]"


def filter_expr(filters: Filters | None) -> str:
    """Milvus filter expression for ``filters`` ("" = everything). Undated chunks (date "")
    match a date bound only with ``filters.include_undated``."""
    if filters is None:
        return ""
    parts = []
    if filters.doc_ids is not None:
        parts.append(in_expr("doc_id", filters.doc_ids) if filters.doc_ids else 'doc_id == ""')
    dated = []
    if filters.date_from:
        dated.append(f"date >= {quote(filters.date_from)}")
    if filters.date_to:
        dated.append(f'date <= {quote(filters.date_to)} and date != ""')
    if dated:
        bound = " and ".join(dated)
        parts.append(f'(({bound}) or date == "")' if filters.include_undated else bound)
    return " and ".join(parts)


def restore_table(rows: Sequence[Mapping[str, Any]]) -> Table:
    """folded gram -> most frequent spelling, from ``<p>_terms`` rows (``id``: folded gram,
    ``spellings``: JSON spelling -> count), like ``index.restore.build_table`` with one
    occurrence enough (ties: the smallest spelling)."""
    table: Table = {}
    for row in rows:
        key = row["id"]
        spellings = [(n, g) for g, n in json.loads(row["spellings"]).items()
                     if g != key or any(c.isalpha() for c in g)]
        if spellings:
            _, best = max(spellings, key=lambda ng: (ng[0], _neg(ng[1])))
            if best != key:
                table[key] = best
    return {**table, **QUESTION_WORDS}


def merge_spellings(current: Mapping[str, int], delta: Mapping[str, int],
                    keep: int = 200) -> dict[str, int]:
    """Spelling counts after ``delta``; gone when zero; at most ``keep`` (the most frequent)."""
    out = dict(current)
    for gram, n in delta.items():
        out[gram] = out.get(gram, 0) + n
    top = sorted(((n, g) for g, n in out.items() if n > 0), key=lambda ng: -ng[0])[:keep]
    return {g: n for n, g in top}


def _neg(s: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in s)


def _batches(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _check_bytes(what: str, value: str) -> str:
    if len(value.encode("utf-8")) > MAX_BYTES:
        raise InputError(f"{what} is over Milvus's {MAX_BYTES}-byte text limit; "
                         "lower chunking.max_chars")
    return value


def chunk_row(doc: Document, chunk: Chunk, text: str, vec: np.ndarray) -> dict:
    """The ``<p>_chunks`` row of one chunk (``text``: its embedded text)."""
    return {"id": chunk.chunk_id, "doc_id": doc.doc_id, "title": doc.title,
            "date": doc.date or "", "source": doc.source, "paragraph": chunk.paragraph,
            "start": chunk.start, "end": chunk.end,
            "embed_text": _check_bytes(f"chunk {chunk.chunk_id}", text),
            "embed_hash": text_hash(text)[:32],
            "bm25": _check_bytes(f"BM25 text of chunk {chunk.chunk_id}", bm25_text(text)),
            "vec": np.asarray(vec, dtype=np.float32).tolist()}


def doc_rows(doc: Document) -> list[dict]:
    """The ``<p>_docs`` rows of one document."""
    return [{"id": f"{doc.doc_id}#{i}", "doc_id": doc.doc_id, "part": i,
             "title": doc.title, "date": doc.date or "", "source": doc.source,
             "content_hash": doc.content_hash, "text": part, "dummy": [1.0, 0.0]}
            for i, part in enumerate(split_utf8(doc.text))]


def passage_of(entity: Mapping[str, Any], chunk_id: str, score: float) -> Passage:
    """A passage from a ``<p>_chunks`` row: the chunk text is the tail of the embedded text."""
    start, end = int(entity["start"]), int(entity["end"])
    text = entity["embed_text"][len(entity["embed_text"]) - (end - start):] if end > start else ""
    return Passage(chunk_id, entity["doc_id"], entity["title"], entity["date"] or None,
                   entity["source"], int(entity["paragraph"]), text, start, end, float(score))


# -- schema ---------------------------------------------------------------------------------
def _chunks_schema(client: Any, dim: int) -> tuple[Any, Any]:
    from pymilvus import DataType, Function, FunctionType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    for name in ("doc_id", "title", "source"):
        s.add_field(name, DataType.VARCHAR, max_length=MAX_BYTES)
    s.add_field("date", DataType.VARCHAR, max_length=16)
    for name in ("paragraph", "start", "end"):
        s.add_field(name, DataType.INT64)
    s.add_field("embed_text", DataType.VARCHAR, max_length=MAX_BYTES)
    s.add_field("embed_hash", DataType.VARCHAR, max_length=32)
    s.add_field("bm25", DataType.VARCHAR, max_length=MAX_BYTES, enable_analyzer=True,
                analyzer_params={"type": "standard"})
    s.add_field("vec", DataType.FLOAT_VECTOR, dim=dim)
    s.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    s.add_function(Function(name="bm25_fn", function_type=FunctionType.BM25,
                            input_field_names=["bm25"], output_field_names=["sparse"]))
    ip = client.prepare_index_params()
    ip.add_index("vec", index_type="HNSW", metric_type="IP",
                 params={"M": 16, "efConstruction": 200})
    ip.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                 params={"bm25_k1": 1.5, "bm25_b": 0.75})  # bm25s's defaults
    for name in ("doc_id", "date", "embed_hash"):  # filters, deletes, embedding cache
        ip.add_index(name, index_type="INVERTED")
    return s, ip


def _side_schema(client: Any, fields: Sequence[tuple[str, str]],
                 indexed: Sequence[str]) -> tuple[Any, Any]:
    """A scalar collection (Milvus needs one vector field: a constant 2-d ``dummy``);
    ``indexed`` fields get an inverted index (they are filtered on)."""
    from pymilvus import DataType

    s = client.create_schema(auto_id=False, enable_dynamic_field=False)
    s.add_field("id", DataType.VARCHAR, is_primary=True, max_length=MAX_BYTES // 8)
    for name, kind in fields:
        if kind == "str":
            s.add_field(name, DataType.VARCHAR, max_length=MAX_BYTES)
        else:
            s.add_field(name, DataType.INT64)
    s.add_field("dummy", DataType.FLOAT_VECTOR, dim=2)
    ip = client.prepare_index_params()
    ip.add_index("dummy", index_type="FLAT", metric_type="IP")
    for name in indexed:
        ip.add_index(name, index_type="INVERTED")
    return s, ip


DOC_SCHEMA = [("doc_id", "str"), ("part", "int"), ("title", "str"), ("date", "str"),
              ("source", "str"), ("content_hash", "str"), ("text", "str")]
TERM_SCHEMA = [("spellings", "str")]  # id: folded gram


def connect(uri: str, token: str | None = None) -> Any:
    """A ``MilvusClient`` for ``uri`` (a ``.db`` path runs milvus-lite in this process)."""
    try:
        from pymilvus import MilvusClient
    except ImportError as exc:
        raise InputError("the milvus engine needs pymilvus: pip install 'hoidap[scale]'") from exc
    if "://" not in uri:
        Path(uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        uri = str(Path(uri).expanduser().resolve())
    try:
        return MilvusClient(uri=uri, token=token or "")
    except Exception as exc:
        raise IndexStateError(f"cannot connect to Milvus at {uri} ({type(exc).__name__}: "
                              f"{exc}); start it or fix --milvus-uri / HOIDAP_MILVUS_URI") from exc


class MilvusBackend:
    """A :class:`qa.backends.SearchBackend` stored in (and ranked by) Milvus."""

    def __init__(self, client: Any, config: Config) -> None:
        self.client = client
        self.config = config
        prefix = config.milvus_collection
        self.chunks_c, self.docs_c, self.terms_c = (f"{prefix}_chunks", f"{prefix}_docs",
                                                    f"{prefix}_terms")
        self._vocab_cache: tuple[str, list[dict]] | None = None

    @classmethod
    def open(cls, config: Config, *, create: bool = False) -> MilvusBackend:
        """Connect; ``create`` makes missing collections, else a missing one is an error."""
        import os

        backend = cls(connect(config.resolved_milvus_uri, os.environ.get("HOIDAP_MILVUS_TOKEN")),
                      config)
        backend._ensure(create)
        return backend

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
        schemas = {self.chunks_c: lambda: _chunks_schema(self.client, EMBED_DIM),
                   self.docs_c: lambda: _side_schema(self.client, DOC_SCHEMA, ["doc_id"]),
                   self.terms_c: lambda: _side_schema(self.client, TERM_SCHEMA, [])}
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
        self._vocab_cache = None
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
        self._flush()

    def remove(self, doc_ids: Sequence[str]) -> None:
        """Drop documents and their chunks."""
        self._count_terms(self._drop(list(doc_ids)), ())
        self._flush()

    def _flush(self) -> None:
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
        delta: Counter[str] = Counter()
        for text in new_texts:
            delta.update(g for g in grams(text) if len(g.encode("utf-8")) <= MAX_GRAM_BYTES)
        for text in old_texts:
            delta.subtract(g for g in grams(text) if len(g.encode("utf-8")) <= MAX_GRAM_BYTES)
        by_key: dict[str, dict[str, int]] = {}
        for gram, n in delta.items():
            if n:
                by_key.setdefault(fold(gram), {})[gram] = n
        if not by_key:
            return
        self._vocab_cache = None
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

    # -- queries ----------------------------------------------------------------------------
    def _vocab(self, query: str) -> list[dict]:
        """``<p>_terms`` rows whose folded form is one of the query's syllables or pairs."""
        if self._vocab_cache and self._vocab_cache[0] == query:
            return self._vocab_cache[1]
        keys = [fold(g) for g in grams(query)]
        rows = self._query_in(self.terms_c, "id", keys, ["spellings"]) if keys else []
        self._vocab_cache = (query, rows)
        return rows

    def coverage(self, query: str) -> float:
        """Share of the query's folded syllables that occur in the corpus."""
        toks = folded_tokens(query)
        if not toks:
            return 0.0
        known = {r["id"] for r in self._vocab(normalize(query))}
        return sum(t in known for t in toks) / len(toks)

    def restored(self, query: str) -> str:
        """``query`` with the corpus's diacritics when typed without them (see Retriever)."""
        query = normalize(query)
        if has_marks(query) or self.coverage(query) < MIN_COVERAGE:
            return query
        return restore(query, restore_table(self._vocab(query)))

    def rank(self, query: str, query_vec: np.ndarray | None, k: int,
             filters: Filters | None = None, mode: Mode = "hybrid") -> list[Passage]:
        """Top-``k`` passages: dense + BM25 fused by RRF, score in [0, 1]."""
        query = normalize(query)
        cfg = self.config.retrieval
        n = max(cfg.candidates, k)
        marks = has_marks(query)
        dense_w, bm25_w = fusion_weights(cfg.dense_weight, cfg.bm25_weight, marks,
                                         self.coverage(query), MIN_COVERAGE)
        expr = filter_expr(filters)
        requests, weights = [], []
        if mode in ("hybrid", "dense"):
            weights.append(dense_w if mode == "hybrid" else 1.0)
            requests.append(self._dense_request(query_vec, n, expr))
        if mode in ("hybrid", "bm25"):
            weights.append(bm25_w if mode == "hybrid" else 1.0)
            text = bm25_query(query, exact=marks)
            requests.append(self._bm25_request(text, n, expr) if text else None)
        best = max_rrf(weights, cfg.rrf_k)
        live = [r for r in requests if r is not None]
        if len(live) == 2 and weights[0] == weights[1]:
            hits = self.client.hybrid_search(self.chunks_c, live, ranker=_rrf_ranker(cfg.rrf_k),
                                             limit=k, output_fields=CHUNK_FIELDS)[0]
            return [passage_of(h["entity"], h["id"], h["distance"] * weights[0] / best)
                    for h in hits]
        return self._fuse(requests, weights, k, best)

    def _dense_request(self, vec: np.ndarray | None, n: int, expr: str) -> Any:
        from pymilvus import AnnSearchRequest

        if vec is None:
            raise ValueError("dense ranking needs a query vector")
        data = [np.asarray(vec, dtype=np.float32).reshape(-1).tolist()]
        return AnnSearchRequest(data=data, anns_field="vec", limit=n, expr=expr or None,
                                param={"metric_type": "IP", "params": {"ef": max(2 * n, 64)}})

    def _bm25_request(self, text: str, n: int, expr: str) -> Any:
        from pymilvus import AnnSearchRequest

        return AnnSearchRequest(data=[text], anns_field="sparse", limit=n, expr=expr or None,
                                param={"metric_type": "BM25"})

    def _fuse(self, requests: Sequence[Any], weights: Sequence[float], k: int,
              best: float) -> list[Passage]:
        """Weighted RRF here over rankings Milvus returns (None = an empty ranking)."""
        ids: dict[str, int] = {}
        entities: list[Mapping[str, Any]] = []
        rankings: list[list[int]] = []
        for req in requests:
            ranking: list[int] = []
            if req is not None:
                hits = self.client.search(self.chunks_c, data=req.data, anns_field=req.anns_field,
                                          limit=req.limit, filter=req.expr or "",
                                          search_params=req.param, output_fields=CHUNK_FIELDS)
                for h in hits[0]:
                    if h["id"] not in ids:
                        ids[h["id"]] = len(entities)
                        entities.append(h["entity"])
                    ranking.append(ids[h["id"]])
            rankings.append(ranking)
        names = list(ids)
        return [passage_of(entities[i], names[i], score / best)
                for i, score in rrf(rankings, weights, self.config.retrieval.rrf_k)[:k]]


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


def _rrf_ranker(k: int) -> Any:
    from pymilvus import RRFRanker

    return RRFRanker(k)
