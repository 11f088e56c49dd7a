"""Files -> a search backend (Milvus, ...), incrementally, without a full rewrite.

The local index folder is rebuilt as a whole new version by ``index.build.build_index``. A
distributed engine is updated in place instead: only added/updated documents are chunked and
written, removed ones are deleted, and unchanged text is never re-embedded (vectors are looked
up by the hash of the embedded text, as in the local build).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from hoidap.config import Config
from index.build import (
    BuildReport,
    PassageEncoder,
    Progress,
    chunk_all,
    collect_documents,
    embed_with_cache,
    empty_corpus,
    merge_documents,
)
from index.store import text_hash
from index.types import Chunk, Document


class WritableBackend(Protocol):
    """The write side of ``qa.backends.SearchBackend``."""

    def upsert(self, documents: Sequence[Document], chunks: Sequence[Chunk],
               vectors: np.ndarray, texts: Sequence[str]) -> None: ...

    def remove(self, doc_ids: Sequence[str]) -> None: ...

    def documents(self, doc_ids: Sequence[str] | None = None) -> list[Document]: ...

    def cached_vectors(self, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...

    def counts(self) -> tuple[int, int]: ...

    def clear(self) -> None: ...


def build_into(backend: WritableBackend, paths: Sequence[Path], config: Config,
               encoder: PassageEncoder, *, remove: Sequence[str] = (), fresh: bool = False,
               progress: Progress | None = None, documents: Sequence[Document] = (),
               dates: Mapping[str, str] | None = None) -> BuildReport:
    """Add/update the documents under ``paths`` (and ``documents``), drop ``remove``, set
    user ``dates``."""
    t0 = time.perf_counter()
    if fresh:
        backend.clear()
    new_docs, failed = collect_documents(paths, config.limits) if paths else ([], [])
    new_docs = [*new_docs, *documents]
    known = backend.documents([*(d.doc_id for d in new_docs), *remove, *(dates or {})])
    docs, what = merge_documents({d.doc_id: d for d in known}, new_docs, remove, dates)
    if not new_docs and not remove and backend.counts()[0] == 0:
        raise empty_corpus(paths, failed)
    changed = [docs[k] for k in sorted({*what["added"], *what["updated"]})]
    chunks, texts = chunk_all(changed, config)
    cached = backend.cached_vectors([text_hash(t)[:32] for t in texts]) if texts else {}
    vectors, embedded = embed_with_cache(texts, cached, encoder, config.embed_batch_size,
                                         progress)
    if what["removed"]:
        backend.remove(what["removed"])
    if changed:
        backend.upsert(changed, chunks, vectors, texts)
    n_docs, n_chunks = backend.counts()
    return BuildReport(
        index_dir=Path(config.resolved_milvus_uri),
        added=tuple(what["added"]), updated=tuple(what["updated"]),
        unchanged=tuple(what["unchanged"]), removed=tuple(what["removed"]),
        failed=tuple(failed), documents=n_docs, chunks=n_chunks, embedded=embedded,
        seconds=time.perf_counter() - t0, changed=bool(changed or what["removed"] or fresh))
