"""Files -> documents, chunks and vectors: the pure parts of every build.

Loading, merging with what an engine holds, chunking and embedding with a cache (unchanged text
is never re-embedded). The write itself goes through an engine: ``qa.search.write``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np

from hoidap.config import Config, LimitsConfig
from hoidap.errors import (
    DocumentNotFoundError,
    EmptyCorpusError,
    HoidapError,
    InputError,
)
from index.chunking import chunk_document, embedding_text
from index.dates import valid_date
from index.loaders import iter_files
from index.parse_worker import ParseWorker, load_checked
from index.segment import text_hash
from index.types import Chunk, Document

Progress = Callable[[str, int, int], None]  # (stage, done, total)


class PassageEncoder:
    """What the builder needs from an embedder (see ``index.embedder.Embedder``)."""

    dim: int

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None,
                        progress: Callable[[int, int], None] | None = None) -> np.ndarray: ...

    # optional: ``release_bulk()`` frees the passage model once a build's batches are embedded


@dataclass(frozen=True)
class BuildReport:
    """What a build did, for people and for tests."""

    index_dir: Path
    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    failed: tuple[tuple[str, str], ...] = ()  # (path, reason)
    documents: int = 0
    chunks: int = 0
    embedded: int = 0
    seconds: float = 0.0
    changed: bool = field(default=True)

    def to_dict(self) -> dict:
        """JSON-friendly form."""
        return {
            "index_dir": str(self.index_dir), "added": list(self.added),
            "updated": list(self.updated), "unchanged": list(self.unchanged),
            "removed": list(self.removed),
            "failed": [{"path": p, "reason": r} for p, r in self.failed],
            "documents": self.documents, "chunks": self.chunks, "embedded": self.embedded,
            "seconds": round(self.seconds, 3),
        }


def _unique_id(doc: Document, taken: set[str]) -> Document:
    """Give a document whose stem collides with another file's a stable suffixed id."""
    if doc.doc_id not in taken:
        return doc
    suffix = hashlib.sha256(doc.source.encode("utf-8")).hexdigest()[:6]
    return replace(doc, doc_id=f"{doc.doc_id}-{suffix}")


def collect_documents(paths: Sequence[Path], limits: LimitsConfig | None = None,
                      ) -> tuple[list[Document], list[tuple[str, str]]]:
    """Load every supported file under ``paths``; failures are returned with reasons.

    Each file is read in a worker process with ``limits.parse_timeout_s`` per file
    (0: in this process, no time limit); files over the size limits are skipped.
    """
    failures: list[tuple[str, str]] = []
    docs = [d for group, _ in iter_documents(paths, limits, failures) for d in group]
    return docs, failures


def iter_documents(paths: Sequence[Path], limits: LimitsConfig | None,
                   failures: list[tuple[str, str]], group: int = 64,
                   ) -> Iterator[tuple[list[Document], float]]:
    """:func:`collect_documents` ``group`` files at a time, with the share of files read so
    far (ids unique across groups); failures are appended to ``failures`` as they happen."""
    limits = limits or LimitsConfig()
    files, failed = iter_files(paths)
    failures.extend((str(p), reason) for p, reason in failed)
    taken: set[str] = set()
    with ParseWorker(limits) as worker:
        load = worker.load if limits.parse_timeout_s else partial(load_checked, limits=limits)
        for first in range(0, len(files), group):
            docs: list[Document] = []
            for path in files[first:first + group]:
                try:
                    doc = _unique_id(load(path), taken)
                except HoidapError as exc:
                    failures.append((str(path), str(exc)))
                    continue
                taken.add(doc.doc_id)
                docs.append(doc)
            yield docs, min(1.0, (first + group) / len(files))


USER_DATE = "user"  # date_source of a date set with ``--date``: kept until changed again
_META = ("title", "date")  # what every engine stores beside the text


def merge_documents(old: dict[str, Document], new: Iterable[Document],
                    remove: Sequence[str], dates: Mapping[str, str] | None = None,
                    ) -> tuple[dict[str, Document], dict[str, list[str]]]:
    """Apply new documents, removals and user-set ``dates`` (doc id -> ISO date) to ``old``;
    returns the result and what changed. A date a user set outlives re-reading the file."""
    unknown = [d for d in remove if d not in old]
    if unknown:
        raise DocumentNotFoundError(
            f"cannot remove {', '.join(unknown)}: not in the index "
            "(list documents with: hoidap show --list)")
    docs = {k: v for k, v in old.items() if k not in set(remove)}
    what: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": [],
                                  "removed": list(remove)}
    for doc in new:
        prev = docs.get(doc.doc_id)
        if prev is not None and prev.date_source == USER_DATE:
            doc = replace(doc, date=prev.date, date_source=USER_DATE)
        if prev is None:
            what["added"].append(doc.doc_id)
        elif _same(prev, doc):
            what["unchanged"].append(doc.doc_id)
            continue
        else:
            what["updated"].append(doc.doc_id)
        docs[doc.doc_id] = doc
    _set_dates(docs, dates or {}, what)
    return docs, what


def _same(a: Document, b: Document) -> bool:
    return (a.content_hash, a.source) == (b.content_hash, b.source) and all(
        getattr(a, f) == getattr(b, f) for f in _META)


def _set_dates(docs: dict[str, Document], dates: Mapping[str, str],
               what: dict[str, list[str]]) -> None:
    """Give documents the dates a user set (re-dating re-embeds nothing)."""
    for doc_id, iso in dates.items():
        if doc_id not in docs:
            raise DocumentNotFoundError(
                f"--date {doc_id}={iso}: no document {doc_id!r} in the index or the given "
                "files (list documents with: hoidap show --list)")
        parts = iso.split("-")
        if len(parts) != 3 or valid_date(*parts) != iso:
            raise InputError(f"--date {doc_id}={iso}: write the date as YYYY-MM-DD, "
                             "e.g. 2021-01-21")
        doc = docs[doc_id]
        if (doc.date, doc.date_source) == (iso, USER_DATE):
            continue
        docs[doc_id] = replace(doc, date=iso, date_source=USER_DATE)
        if doc_id in what["unchanged"]:
            what["unchanged"].remove(doc_id)
        if doc_id not in what["added"] and doc_id not in what["updated"]:
            what["updated"].append(doc_id)


def chunk_all(docs: Sequence[Document], config: Config) -> tuple[list[Chunk], list[str]]:
    """Chunks of ``docs`` in order, with the text embedded for each."""
    chunks: list[Chunk] = []
    texts: list[str] = []
    for doc in docs:
        for chunk in chunk_document(doc, config.chunking):
            chunks.append(chunk)
            texts.append(embedding_text(doc, chunk))
    return chunks, texts


def embed_with_cache(texts: Sequence[str], cached: Mapping[str, np.ndarray],
                     encoder: PassageEncoder, batch_size: int,
                     progress: Progress | None = None) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``: ``cached`` (by text hash) where present, else encoded."""
    keys = [text_hash(t)[:32] for t in texts]
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    todo = [i for i, key in enumerate(keys) if key not in cached]
    for i, key in enumerate(keys):
        if key in cached:
            out[i] = cached[key]
    if todo:
        def report(done: int, total: int) -> None:
            if progress:
                progress("embed", done, total)
        out[todo] = encoder.encode_passages([texts[i] for i in todo], batch_size=batch_size,
                                            progress=report)
    return out, len(todo)


def empty_corpus(paths: Sequence[Path], failed: Sequence[tuple[str, str]]) -> EmptyCorpusError:
    """The error for a build that found nothing to index, with the first reasons."""
    reasons = "; ".join(f"{p}: {r}" for p, r in failed[:5]) or "no supported files found"
    return EmptyCorpusError(
        f"nothing to index in {', '.join(map(str, paths)) or '(no paths)'} ({reasons}); "
        "give .txt, .md, .html, .pdf or .docx files or folders")
