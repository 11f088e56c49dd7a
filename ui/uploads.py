"""Uploaded files: safe names, type and size limits (shared by the REST API and the chat)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from hoidap.config import LimitsConfig
from hoidap.errors import HoidapError, IndexStateError, InputError
from index.clean import safe_doc_id
from index.loaders import SUPPORTED
from ui.security import MAX_FILES_PER_UPLOAD

if TYPE_CHECKING:
    from index.build import BuildReport, Progress
    from qa.engine import QAEngine

Saved = tuple[Path, Path | None]  # (the saved file, the earlier file it replaced, set aside)
Update = Callable[[list[Path], "Progress | None"], "BuildReport"]  # index these files

_MB = 1024 * 1024
_COPY_BLOCK = 1024 * 1024


class UploadTooLargeError(InputError):
    """An uploaded file is over ``max_upload_mb`` (HTTP 413)."""


class UploadTypeError(InputError):
    """An uploaded file type is not allowed (HTTP 415)."""


def upload_name(original: str, taken: set[str]) -> str:
    """A safe file name for an upload: sanitised stem (no ``/``, ``..``, NUL), lower-case suffix.

    A stem that collides with a document that did not come from the uploads folder
    gets a short hash so an upload never replaces an existing document.
    """
    base = original.replace("\x00", "").replace("\\", "/").rsplit("/", 1)[-1]
    path = Path(base)
    suffix = "".join(c for c in path.suffix.lower() if c.isalnum() or c == ".")
    stem = safe_doc_id(path.stem)
    if stem in taken:
        stem = f"{stem}-{hashlib.sha256(original.encode('utf-8', 'replace')).hexdigest()[:6]}"
    return stem + suffix


def accepted_types(limits: LimitsConfig) -> list[str]:
    """The suffixes an upload may have: allowed (``HOIDAP_UPLOAD_TYPES``) and read by a
    loader, in the configured order."""
    return [t for t in limits.upload_types if t in SUPPORTED]


def check_type(name: str, limits: LimitsConfig) -> None:
    """:class:`UploadTypeError` unless the name ends with a suffix of :func:`accepted_types`."""
    suffix = Path(name.replace("\x00", "")).suffix.lower()
    accepted = accepted_types(limits)
    if suffix not in accepted:
        raise UploadTypeError(
            f"{name!r}: file type {suffix or '(none)'!r} is not accepted; upload one of "
            f"{', '.join(accepted)} (HOIDAP_UPLOAD_TYPES)")


def too_large(name: str, size: int, limits: LimitsConfig) -> UploadTooLargeError:
    """The error for a file of ``size`` bytes over the upload limit."""
    return UploadTooLargeError(
        f"{name!r} is {size / _MB:.1f} MB or more; the upload limit is "
        f"{limits.max_upload_mb:g} MB per file (HOIDAP_MAX_UPLOAD_MB)")


def check_size(name: str, size: int, limits: LimitsConfig) -> None:
    """:class:`UploadTooLargeError` when ``size`` bytes is over the limit."""
    if limits.max_upload_mb and size > limits.max_upload_mb * _MB:
        raise too_large(name, size, limits)


def save_stream(src: BinaryIO, dest: Path, name: str, limits: LimitsConfig) -> Path:
    """Copy ``src`` to ``dest`` block by block, stopping (and deleting) past the size limit."""
    written = 0
    try:
        with dest.open("wb") as out:
            while block := src.read(_COPY_BLOCK):
                written += len(block)
                check_size(name, written, limits)
                out.write(block)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    return dest


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, checked to stay inside ``folder``."""
    folder = folder.resolve()
    dest = (folder / name).resolve()
    if dest.parent != folder:
        raise InputError(f"upload name {name!r} leaves the uploads folder; rename the file")
    return dest


def save_upload(src: BinaryIO, dest: Path, name: str, limits: LimitsConfig) -> Saved:
    """:func:`save_stream` to ``dest``, first setting aside a file already there (a new
    version of an earlier upload) so that a failed upload can put it back."""
    backup = None
    if dest.exists():
        backup = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.old")
        os.replace(dest, backup)
    try:
        return save_stream(src, dest, name, limits), backup
    except BaseException:
        rollback([(dest, backup)])
        raise


def rollback(saved: Sequence[Saved]) -> None:
    """Delete saved files and put back what each replaced."""
    for path, backup in saved:
        path.unlink(missing_ok=True)
        if backup is not None:
            os.replace(backup, path)


@dataclass(frozen=True)
class Incoming:
    """A file arriving in an upload: the name it was sent with, its size when known, and how
    to read it (a context manager giving a binary stream)."""

    name: str
    size: int | None
    open: Callable[[], AbstractContextManager[BinaryIO]]

    @classmethod
    def from_path(cls, path: str | Path) -> Incoming:
        """A file already on disk (the chat's temporary copy)."""
        src = Path(path)
        return cls(src.name, src.stat().st_size if src.exists() else None,
                   lambda: src.open("rb"))

    @classmethod
    def from_stream(cls, name: str | None, size: int | None, stream: BinaryIO) -> Incoming:
        """A stream the caller keeps open (a REST ``UploadFile``)."""
        return cls(name or "upload", size, lambda: nullcontext(stream))


Rejected = tuple[str, HoidapError]  # (the name sent, why it was not kept)


def check_incoming(f: Incoming, limits: LimitsConfig) -> None:
    """The checks made before a byte is written: type, and size when it is known."""
    check_type(f.name, limits)
    if f.size is not None:
        check_size(f.name, f.size, limits)


def intake(engine: QAEngine, files: Sequence[Incoming], folder: Path, *,
           strict: bool) -> tuple[list[Saved], list[Rejected]]:
    """Save uploaded files into ``folder`` under safe names, within the type and size limits:
    the one intake of the REST API and the chat. ``strict`` (REST): the first bad file fails
    the whole upload with its error and nothing is written; otherwise bad files are returned
    with their errors and the others saved. More than ``MAX_FILES_PER_UPLOAD`` files fail
    the whole upload either way. On any other failure nothing saved stays."""
    if len(files) > MAX_FILES_PER_UPLOAD:
        raise InputError(f"{len(files)} files in one upload; send at most "
                         f"{MAX_FILES_PER_UPLOAD} at a time")
    limits = engine.config.limits
    ok, rejected = _checked(files, limits, strict)
    folder.mkdir(parents=True, exist_ok=True)
    taken = taken_names(engine, folder)
    saved: list[Saved] = []
    try:
        for f in ok:
            try:
                dest = inside(folder, upload_name(f.name, taken))
                with f.open() as stream:
                    saved.append(save_upload(stream, dest, f.name, limits))
            except (HoidapError, OSError) as exc:
                if strict:
                    raise
                rejected.append((f.name, _as_input_error(f.name, exc)))
    except BaseException:
        rollback(saved)
        raise
    return saved, rejected


def _checked(files: Sequence[Incoming], limits: LimitsConfig,
             strict: bool) -> tuple[list[Incoming], list[Rejected]]:
    """Files that pass :func:`check_incoming`, and the others with their errors (``strict``:
    the first error is raised)."""
    ok: list[Incoming] = []
    rejected: list[Rejected] = []
    for f in files:
        try:
            check_incoming(f, limits)
            ok.append(f)
        except HoidapError as exc:
            if strict:
                raise
            rejected.append((f.name, exc))
    return ok, rejected


def _as_input_error(name: str, exc: BaseException) -> HoidapError:
    if isinstance(exc, HoidapError):
        return exc
    return InputError(f"{name}: cannot be saved ({exc}); check free disk space")


def taken_names(engine: QAEngine, folder: Path) -> set[str]:
    """Document ids an upload must not take: those of documents not from ``folder``."""
    try:
        docs = engine.documents()
    except IndexStateError:
        return set()
    here = folder.resolve()
    return {d.doc_id for d in docs if Path(d.source).parent != here}


def commit_uploads(update: Update, saved: Sequence[Saved],
                   progress: Progress | None = None) -> tuple[BuildReport, list[Path]]:
    """Index saved uploads in one ``update(paths, progress)``; returns the report and the
    files kept. A file that could not be indexed leaves nothing behind (deleted, the earlier
    version restored); if the update fails, none stays."""
    try:
        report = update([p for p, _ in saved], progress)
    except BaseException:
        rollback(saved)
        raise
    failed = {Path(p).resolve() for p, _ in report.failed}
    rollback([s for s in saved if s[0].resolve() in failed])
    kept = [(path, backup) for path, backup in saved if path.resolve() not in failed]
    for _, backup in kept:
        if backup is not None:
            backup.unlink(missing_ok=True)
    return report, [path for path, _ in kept]
