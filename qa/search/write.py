"""The one write path: files (and ready-made documents) into any search engine.

``QAEngine.update``, ``hoidap index build``, uploads, ``hoidap serve``'s first start and the
evaluation builds all come here. Documents are read and checked first (bad input raises before
anything is written); then the added/updated ones are chunked and embedded in batches of about
``config.segments.batch_chunks`` chunks, each written as it is ready (vectors of unchanged text
are looked up by hash, never re-embedded), so memory does not grow with the corpus. An
incremental build commits every batch (a killed one loses only the batch in flight); a
``fresh`` one commits once at the end (the old index stays until then, and a rerun re-uses
the batches a killed one wrote). The local engine writes each batch as a segment, Milvus
upserts it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
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
from index.segment import text_hash
from index.types import Chunk, Document
from qa.search import open_engine
from qa.search.protocol import SearchEngine

Batch = tuple[list[Document], list[Chunk], list[str]]


def write_documents(engine: SearchEngine, paths: Sequence[Path], config: Config,
                    encoder: PassageEncoder, *, remove: Sequence[str] = (),
                    fresh: bool = False, progress: Progress | None = None,
                    documents: Sequence[Document] = (),
                    dates: Mapping[str, str] | None = None) -> BuildReport:
    """Add/update the documents under ``paths`` (and ``documents``), drop ``remove``, set
    user ``dates`` (doc id -> ISO date, nothing re-embedded); ``fresh`` starts empty.
    Bad input raises before anything is written."""
    t0 = time.perf_counter()
    with engine.writing():
        new_docs, failed = collect_documents(paths, config.limits) if paths else ([], [])
        new_docs = [*new_docs, *documents]
        rechunk = not fresh and engine.needs_rechunk(config.chunking)
        asked = [*(d.doc_id for d in new_docs), *remove, *(dates or {})]
        known = [] if fresh else engine.documents(None if rechunk else asked)
        docs, what = merge_documents({d.doc_id: d for d in known}, new_docs, remove, dates)
        if not new_docs and not remove and (fresh or engine.counts()[0] == 0):
            raise empty_corpus(paths, failed)
        del new_docs, known
        changed = sorted(docs if rechunk else {*what["added"], *what["updated"]})
        if fresh:
            engine.clear()
        if what["removed"]:
            engine.delete(what["removed"])
        embedded = _write_batches(engine, [docs[k] for k in changed], config, encoder,
                                  progress, commit_each=not fresh)
        if fresh or changed or what["removed"]:
            engine.commit()
    n_docs, n_chunks = engine.counts()
    return BuildReport(
        index_dir=Path(engine.location()), added=tuple(what["added"]),
        updated=tuple(what["updated"]), unchanged=tuple(what["unchanged"]),
        removed=tuple(what["removed"]), failed=tuple(failed), documents=n_docs,
        chunks=n_chunks, embedded=embedded, seconds=time.perf_counter() - t0,
        changed=bool(changed or what["removed"]))


def batches(docs: Sequence[Document], config: Config) -> Iterator[Batch]:
    """``docs`` chunked, in batches of at least ``config.segments.batch_chunks`` chunks
    (a document is never split across batches)."""
    batch: Batch = ([], [], [])
    for doc in docs:
        chunks, texts = chunk_all([doc], config)
        batch[0].append(doc)
        batch[1].extend(chunks)
        batch[2].extend(texts)
        if len(batch[1]) >= config.segments.batch_chunks:
            yield batch
            batch = ([], [], [])
    if batch[0]:
        yield batch


def _write_batches(engine: SearchEngine, docs: list[Document], config: Config,
                   encoder: PassageEncoder, progress: Progress | None,
                   commit_each: bool) -> int:
    """Embed and write ``docs`` batch by batch; returns the chunks embedded."""
    chars_left = sum(len(d.text) for d in docs)
    done = embedded = chars_done = 0
    for batch_docs, chunks, texts in batches(docs, config):
        chars = sum(len(d.text) for d in batch_docs)
        chars_left -= chars
        chars_done += chars
        ahead = round(chars_left * (done + len(chunks)) / max(chars_done, 1))

        def report(stage: str, n: int, total: int, _base: int = done, _ahead: int = ahead):
            if progress:
                progress(stage, _base + n, _base + total + _ahead)

        cached = engine.cached_vectors([text_hash(t)[:32] for t in texts]) if texts else {}
        vectors, n = embed_with_cache(texts, cached, encoder, config.embed_batch_size, report)
        embedded += n
        done += len(chunks)
        engine.upsert(batch_docs, chunks, vectors, texts)
        if commit_each and chars_left:
            engine.commit()
        else:
            engine.flush()
    return embedded


def build_index(paths: Sequence[Path], config: Config, encoder: PassageEncoder,
                **options) -> BuildReport:
    """:func:`write_documents` into the configured engine (created when there is none);
    ``options`` as there."""
    engine = open_engine(config, create=True, fresh=options.get("fresh", False))
    return write_documents(engine, paths, config, encoder, **options)
