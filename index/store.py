"""The saved index folder: documents, chunks, vectors (FAISS) and BM25, described by a manifest.

Layout of an index folder ``DIR``::

    DIR/CURRENT            name of the active version folder (replaced atomically)
    DIR/v-<stamp>/         one complete, immutable version
        manifest.json      format version, model, dimension, chunking, per-document hashes, counts
        documents.jsonl    one cleaned document per line (metadata + text)
        chunks.jsonl       one chunk per line (id, doc_id, start, end, paragraph)
        embeddings.npy     float32 (n_chunks, dim), row i = chunk i (also the embedding cache)
        dense.faiss        FAISS inner-product index over the normalised embeddings: exact
                           (flat) below ``VectorIndexConfig.exact_below`` vectors, HNSW above
        restore.json       folded -> accented spellings, to restore diacritics on queries
        bm25/, bm25_folded/  bm25s indexes over syllables, exact and diacritic-folded

A new version is written into a temporary folder, renamed into place, and only then does
``CURRENT`` switch to it (``os.replace``), so a crash at any point leaves the previous version
loadable. Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hoidap.config import EMBED_DIM, FORMAT_VERSION, MODEL_ID, ChunkingConfig, VectorIndexConfig
from hoidap.errors import IndexCorruptError, IndexNotFoundError, IndexVersionError
from index.bm25 import BM25Pair
from index.restore import Table, build_table
from index.types import Chunk, Document

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
RESTORE = "restore.json"
REQUIRED_FILES = ("manifest.json", "documents.jsonl", "chunks.jsonl", "embeddings.npy",
                  "dense.faiss", RESTORE)


def rebuild_hint(index_dir: Path) -> str:
    """The command that rebuilds an index folder from scratch."""
    return f"rebuild it with: hoidap index build --fresh PATH... --index {index_dir}"


@dataclass(frozen=True)
class IndexData:
    """Everything needed to write a version: documents, chunks (in row order) and their vectors."""

    documents: tuple[Document, ...]
    chunks: tuple[Chunk, ...]
    embeddings: np.ndarray  # float32 (len(chunks), dim)
    embed_texts: tuple[str, ...]  # text indexed for each chunk (title-prefixed)
    chunking: ChunkingConfig
    model_id: str = MODEL_ID
    dim: int = EMBED_DIM
    vectors: VectorIndexConfig = VectorIndexConfig()


@dataclass
class LoadedIndex:
    """A loaded, read-only index version."""

    path: Path
    manifest: dict
    documents: dict[str, Document]
    chunks: list[Chunk]
    embeddings: np.ndarray
    dense: object  # faiss.Index
    bm25: BM25Pair
    embed_hashes: list[str]  # per chunk: hash of the text that was embedded (cache key)
    restore_table: Table  # folded spelling -> the corpus's accented spelling

    @property
    def chunk_row(self) -> dict[str, int]:
        """Chunk id -> row number (vectors, BM25 document ids)."""
        return {c.chunk_id: i for i, c in enumerate(self.chunks)}


def manifest_for(data: IndexData) -> dict:
    """The self-description written beside the data."""
    per_doc: dict[str, int] = {}
    for c in data.chunks:
        per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
    return {
        "format_version": FORMAT_VERSION,
        "model_id": data.model_id,
        "dim": data.dim,
        "chunking": asdict(data.chunking),
        "dense": dense_spec(len(data.chunks), data.vectors),
        "bm25": {"tokenizer": "syllables+numbers", "variants": ["exact", "folded"]},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "counts": {"documents": len(data.documents), "chunks": len(data.chunks)},
        "documents": {
            d.doc_id: {"content_hash": d.content_hash, "chunks": per_doc.get(d.doc_id, 0)}
            for d in data.documents
        },
    }


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


def _tune_dense(dense: object, spec: dict) -> None:
    """Set the search-time parameters a loaded index does not keep (HNSW ``efSearch``)."""
    if spec.get("kind") == "hnsw":
        dense.hnsw.efSearch = int(spec["ef_search"])  # type: ignore[attr-defined]


def _write_jsonl(path: Path, rows: Sequence[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def text_hash(text: str) -> str:
    """Content hash of a text (embedding-cache key, document hash)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _chunk_row(c: Chunk, embed_text: str) -> dict:
    return {"id": c.chunk_id, "doc_id": c.doc_id, "start": c.start, "end": c.end,
            "paragraph": c.paragraph, "embed_hash": text_hash(embed_text)[:32]}


def _write_version(folder: Path, data: IndexData) -> None:
    import faiss

    emb = np.ascontiguousarray(data.embeddings, dtype=np.float32).reshape(-1, data.dim)
    if emb.shape[0] != len(data.chunks):
        raise ValueError(f"{emb.shape[0]} vectors for {len(data.chunks)} chunks")
    _write_jsonl(folder / "documents.jsonl", [asdict(d) for d in data.documents])
    _write_jsonl(folder / "chunks.jsonl",
                 [_chunk_row(c, t) for c, t in zip(data.chunks, data.embed_texts, strict=True)])
    np.save(folder / "embeddings.npy", emb, allow_pickle=False)
    dense = make_dense(dense_spec(len(emb), data.vectors), data.dim)
    if len(emb):
        dense.add(emb)  # type: ignore[attr-defined]
    faiss.write_index(dense, str(folder / "dense.faiss"))
    BM25Pair.build(data.embed_texts).save(folder)
    (folder / RESTORE).write_text(
        json.dumps(build_table(data.embed_texts), ensure_ascii=False), encoding="utf-8")
    (folder / MANIFEST).write_text(
        json.dumps(manifest_for(data), ensure_ascii=False, indent=1), encoding="utf-8")


def _sweep(index_dir: Path, keep: str) -> None:
    """Delete versions and temporary folders other than ``keep``."""
    for child in index_dir.iterdir():
        if child.is_dir() and child.name != keep and child.name.startswith(("v-", ".tmp-")):
            shutil.rmtree(child, ignore_errors=True)
        elif child.is_file() and child.name.startswith(f".{CURRENT}."):
            child.unlink(missing_ok=True)  # a pointer left by a build killed before its swap


def save_index(index_dir: Path, data: IndexData) -> Path:
    """Write ``data`` as a new version of ``index_dir`` and switch to it atomically."""
    index_dir.mkdir(parents=True, exist_ok=True)
    name = f"v-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f".tmp-{name}"
    tmp.mkdir()
    _write_version(tmp, data)
    os.replace(tmp, index_dir / name)
    pointer = index_dir / f".{CURRENT}.{name}"
    pointer.write_text(name + "\n", encoding="utf-8")
    os.replace(pointer, index_dir / CURRENT)
    _sweep(index_dir, keep=name)
    return index_dir / name


def current_version(index_dir: Path) -> Path:
    """The active version folder, or an error that says how to build one."""
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexNotFoundError(
            f"no index at {index_dir}: build one with: "
            f"hoidap index build PATH... --index {index_dir}")
    folder = index_dir / pointer.read_text(encoding="utf-8").strip()
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise IndexCorruptError(
            f"index {index_dir} is damaged (missing {', '.join(missing)}); "
            f"{rebuild_hint(index_dir)}")
    return folder


def read_manifest(index_dir: Path) -> dict:
    """The manifest of the active version, checked against this program's format and model."""
    folder = current_version(index_dir)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(
            f"index manifest {folder / MANIFEST} is unreadable ({exc}); {rebuild_hint(index_dir)}"
        ) from exc
    check_manifest(manifest, index_dir)
    return manifest


def check_manifest(manifest: dict, index_dir: Path) -> None:
    """Fail with a rebuild hint when the index was written by another format or model."""
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexVersionError(
            f"index {index_dir} has format version {version}, this hoidap reads version "
            f"{FORMAT_VERSION}; {rebuild_hint(index_dir)}")
    if manifest.get("model_id") != MODEL_ID or manifest.get("dim") != EMBED_DIM:
        raise IndexVersionError(
            f"index {index_dir} was embedded with {manifest.get('model_id')} "
            f"(dim {manifest.get('dim')}), this hoidap uses {MODEL_ID} (dim {EMBED_DIM}); "
            f"{rebuild_hint(index_dir)}")


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _load_chunks(rows: list[dict], docs: dict[str, Document]) -> list[Chunk]:
    chunks = []
    for r in rows:
        text = docs[r["doc_id"]].text[r["start"]:r["end"]]
        chunks.append(Chunk(r["id"], r["doc_id"], r["start"], r["end"], r["paragraph"], text))
    return chunks


def load_index(index_dir: Path, progress: Callable[[str], None] | None = None) -> LoadedIndex:
    """Load the active version of ``index_dir`` (checked; vectors memory-mapped)."""
    import faiss

    manifest = read_manifest(index_dir)
    folder = current_version(index_dir)
    try:
        docs = {d["doc_id"]: Document(**d) for d in _read_jsonl(folder / "documents.jsonl")}
        rows = _read_jsonl(folder / "chunks.jsonl")
        chunks = _load_chunks(rows, docs)
        emb = np.load(folder / "embeddings.npy", mmap_mode="r", allow_pickle=False)
        dense = faiss.read_index(str(folder / "dense.faiss"))
        _tune_dense(dense, manifest.get("dense", {"kind": "flat"}))
        bm25 = BM25Pair.load(folder)
        table = json.loads((folder / RESTORE).read_text(encoding="utf-8"))
    except Exception as exc:  # any unreadable part means the same thing to the user
        raise IndexCorruptError(
            f"index {index_dir} could not be read ({type(exc).__name__}: {exc}); "
            f"{rebuild_hint(index_dir)}") from exc
    counts = manifest.get("counts", {})
    if (counts.get("chunks") != len(chunks) or counts.get("documents") != len(docs)
            or emb.shape[0] != len(chunks) or dense.ntotal != len(chunks)
            or bm25.size != len(chunks)):
        raise IndexCorruptError(
            f"index {index_dir} is inconsistent (counts differ between files); "
            f"{rebuild_hint(index_dir)}")
    return LoadedIndex(folder, manifest, docs, chunks, emb, dense, bm25,
                       [r["embed_hash"] for r in rows], table)
