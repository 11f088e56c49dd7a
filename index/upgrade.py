"""Convert a format-1 index folder (``CURRENT`` + one whole ``v-*`` version) into format 2
(one segment + a commit), re-using its vectors: nothing is re-embedded."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from hoidap.config import EMBED_DIM, MODEL_ID, ChunkingConfig, VectorIndexConfig
from hoidap.errors import IndexCorruptError, IndexVersionError
from index.chunking import embedding_text
from index.commit import OLD_POINTER, Commit, rebuild_hint, write_commit, write_lock
from index.segment import SegmentData, text_hash, write_segment
from index.types import Chunk, Document


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _old_version(index_dir: Path) -> tuple[Path, dict]:
    pointer = index_dir / OLD_POINTER
    if not pointer.is_file():
        raise IndexVersionError(f"{index_dir} is not a format-1 index (no {OLD_POINTER} file); "
                                "nothing to upgrade")
    folder = index_dir / pointer.read_text(encoding="utf-8").strip()
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"old index {folder} is unreadable ({exc}); "
                                f"{rebuild_hint(index_dir)}") from exc
    if manifest.get("model_id") != MODEL_ID or manifest.get("dim") != EMBED_DIM:
        raise IndexVersionError(f"old index {folder} was embedded with "
                                f"{manifest.get('model_id')}; {rebuild_hint(index_dir)}")
    return folder, manifest


def upgrade_index(index_dir: Path, vectors: VectorIndexConfig | None = None) -> Commit:
    """Rewrite the format-1 index in ``index_dir`` as one segment; the old files are removed
    only after the new commit is written."""
    with write_lock(index_dir):
        folder, manifest = _old_version(index_dir)
        try:
            docs = {d["doc_id"]: Document(**d) for d in _read_jsonl(folder / "documents.jsonl")}
            rows = _read_jsonl(folder / "chunks.jsonl")
            emb = np.load(folder / "embeddings.npy", allow_pickle=False)
            chunks = [Chunk(r["id"], r["doc_id"], r["start"], r["end"], r["paragraph"],
                            docs[r["doc_id"]].text[r["start"]:r["end"]]) for r in rows]
        except Exception as exc:  # any unreadable part: the same advice
            raise IndexCorruptError(f"old index {folder} could not be read ({exc}); "
                                    f"{rebuild_hint(index_dir)}") from exc
        if emb.shape[0] != len(chunks):
            raise IndexCorruptError(f"old index {folder}: {emb.shape[0]} vectors for "
                                    f"{len(chunks)} chunks; {rebuild_hint(index_dir)}")
        texts = [embedding_text(docs[c.doc_id], c) for c in chunks]
        name = write_segment(index_dir, SegmentData(
            tuple(docs.values()), tuple(chunks), emb, tuple(text_hash(t)[:32] for t in texts),
            tuple(texts)), vectors or VectorIndexConfig())
        chunking = manifest.get("chunking") or vars(ChunkingConfig())
        commit = Commit(1, (name,), {}, chunking)
        write_commit(index_dir, commit)
        (index_dir / OLD_POINTER).unlink()
        for old in index_dir.glob("v-*"):
            shutil.rmtree(old, ignore_errors=True)
        return commit
