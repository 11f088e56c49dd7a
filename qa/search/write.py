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

import itertools
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
    iter_documents,
    merge_documents,
)
from index.memory import bound_heap, trim
from index.segment import text_hash
from index.types import Chunk, Document
from qa.search import open_engine
from qa.search.protocol import SearchEngine

Batch = tuple[list[Document], list[Chunk], list[str], float]


def write_documents(engine: SearchEngine, paths: Sequence[Path], config: Config,
                    encoder: PassageEncoder, *, remove: Sequence[str] = (),
                    fresh: bool = False, progress: Progress | None = None,
                    documents: Sequence[Document] = (),
                    dates: Mapping[str, str] | None = None) -> BuildReport:
    """Add/update the documents under ``paths`` (and ``documents``), drop ``remove``, set
    user ``dates`` (doc id -> ISO date, nothing re-embedded); ``fresh`` starts empty.
    Bad input raises before anything is written."""
    t0 = time.perf_counter()
    bound_heap()
    failed: list[tuple[str, str]] = []
    what: dict[str, list[str]] = {"added": [], "updated": [], "unchanged": [], "removed": []}
    with engine.writing():
        rechunk = not fresh and engine.needs_rechunk(config.chunking)
        if dates or rechunk:  # every document in memory: dates and rechunking span them all
            todo = _whole(engine, paths, config, remove, fresh, documents, dates, rechunk,
                          failed, what)
        else:  # read as written: memory holds a batch, not the corpus
            todo = _streamed(engine, paths, config, remove, fresh, documents, failed, what)
        if fresh:
            engine.clear()
        if what["removed"]:
            engine.delete(what["removed"])
        seen = [0]
        embedded = _write_batches(engine, _counted(todo, seen), config, encoder, progress,
                                  commit_each=not fresh)
        if embedded and hasattr(encoder, "release_bulk"):
            encoder.release_bulk()  # the merges after the commit run without the model
            trim()
        if not seen[0] and not remove and (fresh or engine.counts()[0] == 0):
            raise empty_corpus(paths, failed)  # nothing was written
        changed = bool(what["added"] or what["updated"] or what["removed"])
        if fresh or changed:
            engine.commit()
    n_docs, n_chunks = engine.counts()
    return BuildReport(
        index_dir=Path(engine.location()), added=tuple(what["added"]),
        updated=tuple(what["updated"]), unchanged=tuple(what["unchanged"]),
        removed=tuple(what["removed"]), failed=tuple(failed), documents=n_docs,
        chunks=n_chunks, embedded=embedded, seconds=time.perf_counter() - t0, changed=changed)


Todo = Iterator[tuple[Document | None, float]]  # (document to write, or None: unchanged)


def _counted(todo: Todo, seen: list[int]) -> Iterator[tuple[Document, float]]:
    """The documents to write, with the share of input read; ``seen[0]`` counts every
    document read."""
    for doc, share in todo:
        seen[0] += 1
        if doc is not None:
            yield doc, share


def _note(what: dict[str, list[str]], step: dict[str, list[str]]) -> None:
    for key in ("added", "updated", "unchanged", "removed"):
        what[key].extend(step[key])


def _whole(engine: SearchEngine, paths: Sequence[Path], config: Config, remove: Sequence[str],
           fresh: bool, documents: Sequence[Document], dates: Mapping[str, str] | None,
           rechunk: bool, failed: list, what: dict[str, list[str]]) -> Todo:
    """Every document read and merged at once (all checked before anything is written)."""
    new_docs, failures = collect_documents(paths, config.limits) if paths else ([], [])
    failed.extend(failures)
    new_docs = [*new_docs, *documents]
    asked = [*(d.doc_id for d in new_docs), *remove, *(dates or {})]
    known = [] if fresh else engine.documents(None if rechunk else asked)
    docs, step = merge_documents({d.doc_id: d for d in known}, new_docs, remove, dates)
    _note(what, step)
    changed = sorted(docs if rechunk else {*step["added"], *step["updated"]})
    n = max(len(changed), 1)
    todo: list[tuple[Document | None, float]] = [
        (docs[k], (i + 1) / n) for i, k in enumerate(changed)]
    todo += [(None, 1.0)] * max(0, len(new_docs) - len(changed))
    return iter(todo)


def _streamed(engine: SearchEngine, paths: Sequence[Path], config: Config,
              remove: Sequence[str], fresh: bool, documents: Sequence[Document],
              failed: list, what: dict[str, list[str]]) -> Todo:
    """Files read group by group as the writing goes (removals checked now)."""
    if remove:
        _, step = merge_documents({d.doc_id: d for d in engine.documents(remove)}, [], remove)
        _note(what, step)
    groups = iter_documents(paths, config.limits, failed) if paths else iter(())
    extra = [(list(documents), 1.0)] if documents else []

    def todo() -> Todo:
        for group, share in itertools.chain(groups, extra):
            known = [] if fresh else engine.documents([d.doc_id for d in group])
            docs, step = merge_documents({d.doc_id: d for d in known}, group, [], None)
            _note(what, step)
            new = {*step["added"], *step["updated"]}
            for d in group:
                yield (docs[d.doc_id] if d.doc_id in new else None), share
    return todo()


def batches(docs: Iterable[tuple[Document, float]], config: Config) -> Iterator[Batch]:
    """``docs`` chunked, in batches of at least ``config.segments.batch_chunks`` chunks
    (a document is never split across batches), each with the share of input read."""
    batch: Batch = ([], [], [], 0.0)
    for doc, share in docs:
        chunks, texts = chunk_all([doc], config)
        batch[0].append(doc)
        batch[1].extend(chunks)
        batch[2].extend(texts)
        if len(batch[1]) >= config.segments.batch_chunks:
            yield batch[0], batch[1], batch[2], share
            batch = ([], [], [], 0.0)
    if batch[0]:
        yield batch[0], batch[1], batch[2], 1.0


def _write_batches(engine: SearchEngine, docs: Iterable[tuple[Document, float]],
                   config: Config, encoder: PassageEncoder, progress: Progress | None,
                   commit_each: bool) -> int:
    """Embed and write ``docs`` batch by batch; returns the chunks embedded. Progress totals
    are estimated from the share of input read (exact when everything fits one batch)."""
    done = embedded = 0
    for batch_docs, chunks, texts, share in batches(docs, config):
        ahead = round((done + len(chunks)) * (1 - share) / share) if share > 0 else 0

        def report(stage: str, n: int, total: int, _base: int = done, _ahead: int = ahead):
            if progress:
                progress(stage, _base + n, _base + total + _ahead)

        cached = engine.cached_vectors([text_hash(t)[:32] for t in texts]) if texts else {}
        vectors, n = embed_with_cache(texts, cached, encoder, config.embed_batch_size, report)
        embedded += n
        done += len(chunks)
        engine.upsert(batch_docs, chunks, vectors, texts)
        if commit_each and share < 1.0:
            engine.commit()
        else:
            engine.flush()
        del batch_docs, chunks, texts, vectors, cached
        trim()
    return embedded


def build_index(paths: Sequence[Path], config: Config, encoder: PassageEncoder,
                **options) -> BuildReport:
    """:func:`write_documents` into the configured engine (created when there is none);
    ``options`` as there."""
    engine = open_engine(config, create=True, fresh=options.get("fresh", False))
    return write_documents(engine, paths, config, encoder, **options)
