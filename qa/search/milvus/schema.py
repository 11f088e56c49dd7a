"""Milvus collections: their schemas, the rows hoidap writes, and the connection."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hoidap.errors import IndexStateError, InputError
from index.segment import text_hash
from index.types import Chunk, Document
from qa.search.milvus.escape import MAX_BYTES, bm25_text, split_utf8
from qa.types import Passage

CHUNK_FIELDS = ["doc_id", "title", "date", "source", "paragraph", "start", "end", "embed_text"]
DOC_FIELDS = ["doc_id", "part", "title", "date", "source", "content_hash", "text"]


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
def chunks_schema(client: Any, dim: int) -> tuple[Any, Any]:
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
                 params={"bm25_k1": 1.5, "bm25_b": 0.75})  # the local index's (index.postings)
    for name in ("doc_id", "date", "embed_hash"):  # filters, deletes, embedding cache
        ip.add_index(name, index_type="INVERTED")
    return s, ip


def side_schema(client: Any, fields: Sequence[tuple[str, str]],
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
