"""One immutable segment of an index: its documents, chunks, vectors, FAISS index, BM25
postings and spelling counts.

Layout of ``DIR/seg-<id>/`` (written as ``DIR/.tmp-seg-<id>/`` and renamed when complete;
``segment.json`` is written last, so a folder without it is never read)::

    documents.jsonl    one cleaned document per line (metadata + text)
    chunks.jsonl       one chunk per line (id, doc_id, start, end, paragraph, embed_hash)
    hashes.npy         per chunk the hash of the embedded text (the embedding cache key)
    rowdocs.npy        per chunk the number of its document (order of ``segment.json``)
    embeddings.npy     float32 (n_chunks, dim), row i = chunk i
    dense.faiss        FAISS inner-product index: flat below ``exact_below`` vectors, else HNSW
    exact.*, folded.*  BM25 postings over syllables, with and without diacritics
    spellings.*        folded syllable (or pair) -> [spelling, count, ...] (``index.spellings``)
    segment.json       format version, counts, vector index, per document: hash, chunks, offset

Parts load lazily (a writer reads only ``segment.json`` and the lines it needs); vectors and
postings are memory-mapped. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from hoidap.config import EMBED_DIM, FORMAT_VERSION, VectorIndexConfig
from index.postings import Postings, build_postings
from index.spellings import Spellings, count_spellings, table_rows, write_spellings
from index.text import fold, tokens
from index.types import Chunk, Document

SEGMENT_META = "segment.json"
SEGMENT_FILES = ("documents.jsonl", "chunks.jsonl", "hashes.npy", "rowdocs.npy", "embeddings.npy",
                 "dense.faiss", "spellings.keys.npy", "spellings.offsets.npy", "spellings.jsonl",
                 SEGMENT_META) + tuple(
    f"{v}.{part}" for v in ("exact", "folded")
    for part in ("vocab.json", "indptr.npy", "rows.npy", "tfs.npy", "doclen.npy"))


@dataclass(frozen=True)
class SegmentData:
    """What a new segment holds: documents, chunks (in row order), vectors and the text
    embedded for each chunk; ``postings``/``spellings`` when already made (a merge)."""

    documents: tuple[Document, ...]
    chunks: tuple[Chunk, ...]
    vectors: np.ndarray  # float32 (len(chunks), dim)
    hashes: tuple[str, ...]  # per chunk: hash of the embedded text
    texts: tuple[str, ...] = ()  # embedded texts (not needed when postings are given)
    postings: tuple[Postings, Postings] | None = None  # (exact, folded)
    spellings: Iterable[tuple[str, list]] | None = None  # sorted rows (a merge)
    syllables: int | None = None


def text_hash(text: str) -> str:
    """Content hash of a text (embedding-cache key, document hash)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def new_name() -> str:
    """A fresh segment name."""
    return f"seg-{uuid.uuid4().hex[:12]}"


def _fsync_write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def dense_spec(n: int, config: VectorIndexConfig) -> dict:
    """The vector index for ``n`` vectors: ``{"kind": "flat"}`` or HNSW with its parameters."""
    if n < config.exact_below:
        return {"kind": "flat"}
    return {"kind": "hnsw", "m": config.hnsw_m, "ef_construction": config.ef_construction,
            "ef_search": config.ef_search}


def make_dense(spec: dict, dim: int) -> object:
    """An empty FAISS inner-product index for ``spec`` (see :func:`dense_spec`)."""
    import faiss

    if spec["kind"] == "flat":
        return faiss.IndexFlatIP(dim)
    index = faiss.IndexHNSWFlat(dim, int(spec["m"]), faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = int(spec["ef_construction"])
    index.hnsw.efSearch = int(spec["ef_search"])
    return index


def _write_documents(path: Path, docs: Sequence[Document], chunks: Sequence[Chunk]) -> dict:
    per_doc = Counter(c.doc_id for c in chunks)
    meta: dict[str, dict] = {}
    with path.open("wb") as f:
        for d in docs:
            line = (json.dumps(asdict(d), ensure_ascii=False) + "\n").encode("utf-8")
            meta[d.doc_id] = {"content_hash": d.content_hash, "chunks": per_doc[d.doc_id],
                              "offset": f.tell(), "length": len(line)}
            f.write(line)
        f.flush()
        os.fsync(f.fileno())
    return meta


def write_segment(index_dir: Path, data: SegmentData, vectors: VectorIndexConfig,
                  dim: int = EMBED_DIM) -> str:
    """Write ``data`` as a new complete segment of ``index_dir``; returns its name."""
    import faiss

    emb = np.ascontiguousarray(data.vectors, dtype=np.float32).reshape(-1, dim)
    if not (emb.shape[0] == len(data.chunks) == len(data.hashes)):
        raise ValueError(f"{emb.shape[0]} vectors for {len(data.chunks)} chunks")
    name = new_name()
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir(parents=True)
    docs_meta = _write_documents(tmp / "documents.jsonl", data.documents, data.chunks)
    _fsync_write(tmp / "chunks.jsonl", "".join(json.dumps(
        {"id": c.chunk_id, "doc_id": c.doc_id, "start": c.start, "end": c.end,
         "paragraph": c.paragraph, "embed_hash": h}, ensure_ascii=False) + "\n"
        for c, h in zip(data.chunks, data.hashes, strict=True)))
    np.save(tmp / "hashes.npy", np.asarray(data.hashes, dtype="S32"), allow_pickle=False)
    order = {d: i for i, d in enumerate(docs_meta)}
    np.save(tmp / "rowdocs.npy", np.asarray([order[c.doc_id] for c in data.chunks], np.int32),
            allow_pickle=False)
    np.save(tmp / "embeddings.npy", emb, allow_pickle=False)
    spec = dense_spec(len(emb), vectors)
    dense = make_dense(spec, dim)
    if len(emb):
        dense.add(emb)  # type: ignore[attr-defined]
    faiss.write_index(dense, str(tmp / "dense.faiss"))
    postings = data.postings or (build_postings([tokens(t) for t in data.texts]),
                                 build_postings([tokens(fold(t)) for t in data.texts]))
    for variant, p in zip(("exact", "folded"), postings, strict=True):
        p.save(tmp, variant)
    if data.spellings is not None:
        write_spellings(tmp, data.spellings)
        syllables = data.syllables
    else:
        counts, syllables = count_spellings(data.texts)
        write_spellings(tmp, table_rows(counts))
        del counts
    _fsync_write(tmp / SEGMENT_META, json.dumps({
        "format_version": FORMAT_VERSION, "name": name, "dense": spec, "syllables": syllables,
        "counts": {"documents": len(data.documents), "chunks": len(data.chunks)},
        "documents": docs_meta}, ensure_ascii=False))
    os.replace(tmp, index_dir / name)
    return name


class Segment:
    """A segment folder read lazily: ``meta`` at once, the rest on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.name = folder.name
        self.meta = json.loads((folder / SEGMENT_META).read_text(encoding="utf-8"))
        if self.meta.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"segment format {self.meta.get('format_version')}")

    @property
    def size(self) -> int:
        """Chunks (rows) in the segment, live or not."""
        return int(self.meta["counts"]["chunks"])

    def read_documents(self, doc_ids: Sequence[str]) -> list[Document]:
        """The named documents, read by offset (not the whole file)."""
        out = []
        with (self.folder / "documents.jsonl").open("rb") as f:
            for doc_id in doc_ids:
                m = self.meta["documents"][doc_id]
                f.seek(m["offset"])
                out.append(Document(**json.loads(f.read(m["length"]).decode("utf-8"))))
        return out

    @cached_property
    def documents(self) -> dict[str, Document]:
        """Every document of the segment."""
        with (self.folder / "documents.jsonl").open(encoding="utf-8") as f:
            docs = [Document(**json.loads(line)) for line in f if line.strip()]
        return {d.doc_id: d for d in docs}

    @cached_property
    def chunks(self) -> list[Chunk]:
        """Chunks in row order (texts sliced from their documents)."""
        docs = self.documents
        return [replace(c, text=docs[c.doc_id].text[c.start:c.end]) for c in self.chunk_rows()]

    def chunk_rows(self) -> list[Chunk]:
        """Chunks in row order without their texts (what a merge copies; not kept)."""
        with (self.folder / "chunks.jsonl").open(encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        return [Chunk(r["id"], r["doc_id"], r["start"], r["end"], r["paragraph"], "")
                for r in rows]

    @cached_property
    def row_docs(self) -> np.ndarray:
        """Per row, the index of its document in ``meta["documents"]`` order."""
        return np.load(self.folder / "rowdocs.npy", allow_pickle=False)

    @cached_property
    def hashes(self) -> np.ndarray:
        """Per row, the embedded text's hash (bytes)."""
        return np.load(self.folder / "hashes.npy", allow_pickle=False)

    @cached_property
    def embeddings(self) -> np.ndarray:
        """float32 (rows, dim), memory-mapped."""
        return np.load(self.folder / "embeddings.npy", mmap_mode="r", allow_pickle=False)

    @cached_property
    def dense(self) -> object:
        """The FAISS index (HNSW ``efSearch`` set from the metadata)."""
        import faiss

        index = faiss.read_index(str(self.folder / "dense.faiss"))
        spec = self.meta.get("dense", {"kind": "flat"})
        if spec.get("kind") == "hnsw":
            index.hnsw.efSearch = int(spec["ef_search"])  # type: ignore[attr-defined]
        return index

    @cached_property
    def postings(self) -> tuple[Postings, Postings]:
        """``(exact, folded)`` BM25 postings."""
        return Postings.load(self.folder, "exact"), Postings.load(self.folder, "folded")

    @cached_property
    def spellings(self) -> Spellings:
        """The segment's spelling table (read key by key)."""
        return Spellings(self.folder)

    def load_all(self) -> Segment:
        """Read every part now and check they agree (raises on any damage)."""
        n = self.size
        sizes = (len(self.chunks), len(self.hashes), len(self.row_docs), self.embeddings.shape[0],
                 self.dense.ntotal, self.postings[0].size, self.postings[1].size)  # type: ignore[attr-defined]
        self.spellings.check()
        if any(s != n for s in sizes) or len(self.documents) != self.meta["counts"]["documents"]:
            raise ValueError(f"segment {self.name}: parts disagree ({sizes} for {n} chunks)")
        return self
