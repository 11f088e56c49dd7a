"""The commit file: which segments make up the index now, and which of their documents are
deleted (tombstones).

``DIR/COMMIT`` is JSON: format version, generation (1, 2, ...), model, dimension, chunking,
the live segments in order and, per segment, the ids of its deleted documents (their chunks
are the tombstoned chunks). It is written to ``DIR/.COMMIT.<gen>``, fsynced and renamed over
``COMMIT`` (then the folder is fsynced), so a reader sees the old commit or the new one, never
a mix. Segments no commit names are swept by the writer that holds ``DIR/write.lock``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hoidap.config import EMBED_DIM, FORMAT_VERSION, MODEL_ID, ChunkingConfig
from hoidap.errors import IndexCorruptError, IndexNotFoundError, IndexVersionError

COMMIT = "COMMIT"
LOCK = "write.lock"
OLD_POINTER = "CURRENT"  # format 1: one whole version per change


def rebuild_hint(index_dir: Path) -> str:
    """The command that rebuilds an index folder from scratch."""
    return f"rebuild it with: hoidap index build --fresh PATH... --index {index_dir}"


@dataclass(frozen=True)
class Commit:
    """One commit: the live segments (in order) and the deleted documents of each."""

    generation: int
    segments: tuple[str, ...]
    deleted: dict[str, tuple[str, ...]] = field(default_factory=dict)
    chunking: dict = field(default_factory=lambda: asdict(ChunkingConfig()))
    model_id: str = MODEL_ID
    dim: int = EMBED_DIM

    def to_json(self) -> str:
        """The file's text."""
        return json.dumps({
            "format_version": FORMAT_VERSION, "generation": self.generation,
            "model_id": self.model_id, "dim": self.dim, "chunking": self.chunking,
            "segments": list(self.segments),
            "deleted": {k: list(v) for k, v in self.deleted.items() if v},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, ensure_ascii=False, indent=1)


def empty_commit(chunking: ChunkingConfig) -> Commit:
    """The commit of an index with nothing in it yet (generation 0, never written)."""
    return Commit(0, (), {}, asdict(chunking))


def read_commit(index_dir: Path) -> Commit:
    """The current commit, checked against this program's format and model."""
    path = index_dir / COMMIT
    if not path.is_file():
        if (index_dir / OLD_POINTER).is_file():
            raise IndexVersionError(
                f"index {index_dir} has format version 1 (one whole copy per change); this "
                f"hoidap reads version {FORMAT_VERSION} (segments): convert it without "
                f"re-embedding with: hoidap index upgrade --index {index_dir}, or "
                f"{rebuild_hint(index_dir)}")
        raise IndexNotFoundError(f"no index at {index_dir}: build one with: "
                                 f"hoidap index build PATH... --index {index_dir}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        commit = Commit(int(raw["generation"]), tuple(raw["segments"]),
                        {k: tuple(v) for k, v in raw.get("deleted", {}).items()},
                        raw["chunking"], raw.get("model_id"), raw.get("dim"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"index commit file {path} is unreadable ({exc}); "
                                f"{rebuild_hint(index_dir)}") from exc
    check_format(raw.get("format_version"), commit, index_dir)
    return commit


def check_format(version: object, commit: Commit, index_dir: Path) -> None:
    """Fail with a rebuild hint when the index was written by another format or model."""
    if version != FORMAT_VERSION:
        raise IndexVersionError(
            f"index {index_dir} has format version {version}, this hoidap reads version "
            f"{FORMAT_VERSION}; {rebuild_hint(index_dir)}")
    if commit.model_id != MODEL_ID or commit.dim != EMBED_DIM:
        raise IndexVersionError(
            f"index {index_dir} was embedded with {commit.model_id} (dim {commit.dim}), "
            f"this hoidap uses {MODEL_ID} (dim {EMBED_DIM}); {rebuild_hint(index_dir)}")


def commit_stamp(index_dir: Path) -> tuple[int, int, int] | None:
    """What changes whenever a new commit is written (None: no commit file)."""
    try:
        st = os.stat(index_dir / COMMIT)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_commit(index_dir: Path, commit: Commit) -> None:
    """Make ``commit`` the current one, atomically and durably."""
    tmp = index_dir / f".{COMMIT}.{commit.generation}"
    with tmp.open("w", encoding="utf-8") as f:
        f.write(commit.to_json())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, index_dir / COMMIT)
    _fsync_dir(index_dir)


def sweep(index_dir: Path, keep: set[str]) -> list[str]:
    """Delete segments and temporary files no commit names (call with the write lock)."""
    gone = []
    for child in index_dir.iterdir():
        name = child.name
        if child.is_dir() and name.startswith(("seg-", ".tmp-")) and name not in keep:
            shutil.rmtree(child, ignore_errors=True)
            gone.append(name)
        elif child.is_file() and name.startswith(f".{COMMIT}."):
            child.unlink(missing_ok=True)
    return gone


@contextmanager
def write_lock(index_dir: Path) -> Iterator[None]:
    """Hold ``DIR/write.lock``: one writer at a time (readers never wait)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with (index_dir / LOCK).open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
