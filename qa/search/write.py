"""The one write path: files (and ready-made documents) into any search engine.

``QAEngine.update``, ``hoidap index build``, uploads, ``hoidap serve``'s first start and the
evaluation builds all come here. Only added/updated documents are chunked and embedded
(vectors of unchanged text are looked up by its hash), removed ones are deleted, then the
engine commits: the local engine writes one new index version, Milvus seals its segments.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path

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
from index.types import Document
from qa.search import open_engine
from qa.search.protocol import SearchEngine


def write_documents(engine: SearchEngine, paths: Sequence[Path], config: Config,
                    encoder: PassageEncoder, *, remove: Sequence[str] = (),
                    fresh: bool = False, progress: Progress | None = None,
                    documents: Sequence[Document] = (),
                    dates: Mapping[str, str] | None = None) -> BuildReport:
    """Add/update the documents under ``paths`` (and ``documents``), drop ``remove``, set
    user ``dates`` (doc id -> ISO date, nothing re-embedded); ``fresh`` starts empty.
    Bad input raises before anything is written."""
    t0 = time.perf_counter()
    new_docs, failed = collect_documents(paths, config.limits) if paths else ([], [])
    new_docs = [*new_docs, *documents]
    rechunk = not fresh and engine.needs_rechunk(config.chunking)
    asked = [*(d.doc_id for d in new_docs), *remove, *(dates or {})]
    known = [] if fresh else engine.documents(None if rechunk else asked)
    docs, what = merge_documents({d.doc_id: d for d in known}, new_docs, remove, dates)
    if not new_docs and not remove and (fresh or engine.counts()[0] == 0):
        raise empty_corpus(paths, failed)
    changed = [docs[k] for k in sorted(docs if rechunk else {*what["added"], *what["updated"]})]
    chunks, texts = chunk_all(changed, config)
    cached = engine.cached_vectors([text_hash(t)[:32] for t in texts]) \
        if texts and not fresh else {}
    vectors, embedded = embed_with_cache(texts, cached, encoder, config.embed_batch_size,
                                         progress)
    if fresh:
        engine.clear()
    if what["removed"]:
        engine.delete(what["removed"])
    if changed:
        engine.upsert(changed, chunks, vectors, texts)
    if fresh or changed or what["removed"]:
        engine.commit()
    n_docs, n_chunks = engine.counts()
    return BuildReport(
        index_dir=Path(engine.location()), added=tuple(what["added"]),
        updated=tuple(what["updated"]), unchanged=tuple(what["unchanged"]),
        removed=tuple(what["removed"]), failed=tuple(failed), documents=n_docs,
        chunks=n_chunks, embedded=embedded, seconds=time.perf_counter() - t0,
        changed=bool(changed or what["removed"]))


def build_index(paths: Sequence[Path], config: Config, encoder: PassageEncoder,
                **options) -> BuildReport:
    """:func:`write_documents` into the configured engine (created when there is none);
    ``options`` as there."""
    engine = open_engine(config, create=True, fresh=options.get("fresh", False))
    return write_documents(engine, paths, config, encoder, **options)
