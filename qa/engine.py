"""The engine: loads an index once and answers many questions (Python API, CLI, web)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from hoidap.config import Config
from hoidap.errors import DocumentNotFoundError, ModelError
from index.build import BuildReport, Progress
from index.store import LoadedIndex
from index.types import Document
from qa.calibration import CalibrationTable, load_table, with_confidence
from qa.conversation import Resolved, Turn, parse_history, resolve
from qa.search import Mode, Query, SearchEngine, make_query, open_engine, rank
from qa.search.fusion import prefer
from qa.search.write import write_documents
from qa.types import Filters, Passage, QAResult, make_filters
from qa.vague import clarification, is_vague
from qa.validate import check_filters, check_k, clean_question
from qa.years import named_years, year_matches

if TYPE_CHECKING:
    from qa.reader import Reader


SOFT_REASONS = ("topic", "loose")  # follow-ups by their words alone: retrieval has a say
CONFIDENT = 0.99  # fused score of a passage ranked first by both dense and BM25
CONFIDENT_LOOSE = 0.9  # the bar for a question sharing few words with the history


class QAEngine:
    """Question answering over one saved index.

    Heavy parts (model, index) load lazily on first use or with :meth:`warm_up`.
    Queries always see a complete index: a rebuild swaps the new one in when it is done.
    Safe for concurrent :meth:`ask` calls (the web serves several at once): lazy parts are
    made once under a lock, and a question in flight finishes on the index version it began
    with while :meth:`reload` switches later ones to the new version.
    """

    def __init__(self, config: Config | None = None, *, embedder=None,
                 reader: Reader | None = None) -> None:
        self.config = config or Config.from_env()
        self._embedder = embedder
        self._reader = reader
        self._retriever: SearchEngine | None = None
        self._calibration: CalibrationTable | None | bool = False  # False: not loaded yet
        self._load_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._parts_lock = threading.RLock()  # the embedder and the reader, made once

    # -- lazy parts -------------------------------------------------------------------------
    @property
    def embedder(self):
        """The embedding model (created on first use)."""
        with self._parts_lock:
            if self._embedder is None:
                from index.embedder import Embedder

                self._embedder = Embedder(self.config)
            return self._embedder

    @property
    def reader(self) -> Reader:
        """The reader (heuristic by default; embeddings let it answer English questions)."""
        with self._parts_lock:
            if self._reader is None:
                self._reader = self._make_reader()
            return self._reader

    def _make_reader(self) -> Reader:
        """Neural reader for kind "neural", or "auto" with promoted weights (see
        :func:`qa.neural.promoted`) and the real model; else the heuristic one (test fakes of
        the embedder keep the heuristic reader in "auto")."""
        from hoidap.config import MODEL_ID
        from qa.neural import NeuralReader, promoted

        kind, emb = self.config.reader.kind, self.embedder
        if kind not in ("auto", "neural", "heuristic", "ensemble"):
            raise ModelError(f"config.reader.kind {kind!r} is unknown; use auto, neural, "
                             "heuristic or ensemble")
        real = getattr(emb, "model_id", MODEL_ID) == MODEL_ID
        if kind == "neural" or (kind == "auto" and real and promoted()):
            return NeuralReader(self.config)
        from qa.reader import HeuristicReader

        heuristic = HeuristicReader(embed_queries=emb.encode_queries,
                                    embed_passages=emb.encode_passages)
        if kind != "ensemble":
            return heuristic
        from qa.ensemble import EnsembleReader

        neural = NeuralReader(self.config)
        return EnsembleReader([("heuristic", heuristic, self.config.reader.no_answer_threshold),
                               ("neural", neural, self._neural_threshold(neural))],
                              self.calibration, self.config.reader.max_answers)

    def _neural_threshold(self, reader: Reader) -> float:
        """The neural reader's refusal threshold (config, else its manifest's)."""
        if self.config.reader.neural_no_answer_threshold is not None:
            return self.config.reader.neural_no_answer_threshold
        return float(reader.manifest["no_answer_threshold"])  # type: ignore[attr-defined]

    @property
    def no_answer_threshold(self) -> float:
        """The refusal threshold of the active reader."""
        kind = getattr(self.reader, "kind", "")
        if kind == "ensemble":
            return 0.0  # each of its readers refused below its own threshold already
        if kind != "neural":
            return self.config.reader.no_answer_threshold
        return self._neural_threshold(self.reader)

    @property
    def calibration(self) -> CalibrationTable | None:
        """The confidence calibration table (loaded on first use); None, with a warning
        logged once, when it is missing or malformed: answers then carry no confidence."""
        with self._parts_lock:
            if self._calibration is False:
                try:
                    self._calibration = load_table(self.config.reader.calibration_file)
                except ModelError as exc:
                    logging.getLogger(__name__).warning("%s", exc)
                    self._calibration = None
        return self._calibration  # type: ignore[return-value]

    @property
    def index_dir(self) -> Path:
        """Folder of the index this engine reads."""
        return self.config.resolved_index_dir

    def _retrieval(self) -> SearchEngine:
        with self._load_lock:
            if self._retriever is None:
                self._retriever = open_engine(self.config)
            else:  # a commit another process wrote: pick it up (new segments only)
                self._retriever = self._retriever.refreshed()
            return self._retriever

    @property
    def index(self) -> LoadedIndex:
        """The loaded index version queries currently see (local engine only)."""
        return self._retrieval().index  # type: ignore[attr-defined]

    def counts(self) -> tuple[int, int]:
        """``(documents, chunks)`` in the index, whatever the engine."""
        return self._retrieval().counts()

    def location(self) -> str:
        """Where the search engine keeps the index (a folder, a Milvus URI)."""
        return self._retrieval().location()

    def query(self, text: str) -> Query:
        """``text`` as every stage sees it (diacritics restored once, see
        :class:`qa.search.Query`)."""
        return make_query(text, self._retrieval())

    def warm_up(self) -> QAEngine:
        """Load the index and the model now instead of on the first question."""
        self._retrieval()
        if hasattr(self.embedder, "warm_up"):
            self.embedder.warm_up()
        if hasattr(self.reader, "load"):
            self.reader.load()
        return self

    def reload(self) -> None:
        """Switch to the commit currently on disk (segments already read are re-used)."""
        current = self._retriever
        backend = open_engine(self.config) if current is None else current.refreshed()
        with self._load_lock:
            self._retriever = backend

    # -- queries ----------------------------------------------------------------------------
    def search(self, query: str, k: int = 5, filters: Filters | None = None,
               mode: Mode = "hybrid") -> list[Passage]:
        """Top-``k`` passages for ``query`` (no reading)."""
        query = clean_question(query, self.config.max_question_chars)
        k = check_k(k, self.config.max_k)
        backend = self._retrieval()
        _check_filters(backend, filters)
        return self._rank(backend, make_query(query, backend), k, filters, mode)

    def undated_excluded(self, filters: Filters | None) -> int:
        """How many undated documents ``filters``' date range leaves out (0 when no date
        bound is set or undated documents are included)."""
        return _undated_excluded(self._retrieval(), filters)

    def _fused(self, backend: SearchEngine, query: Query, vec, k: int,
               filters: Filters | None, mode: Mode = "hybrid") -> list[Passage]:
        return rank(backend, query, vec, k, filters, mode, self.config.retrieval)

    def _rank(self, backend: SearchEngine, query: Query, k: int, filters: Filters | None,
              mode: Mode = "hybrid") -> list[Passage]:
        """Fused top-``k``; without a date filter, passages about a year the query names
        ("năm 2021") move up (:func:`qa.search.fusion.prefer`)."""
        vec = None if mode == "bm25" else self.embedder.encode_queries([query.restored])
        years = named_years(query.typed) if filters is None or not filters.dated \
            else frozenset()
        if not years:
            return self._fused(backend, query, vec, k, filters, mode)
        pool = self._fused(backend, query, vec, max(2 * k, k + 5), filters, mode)
        docs = backend.documents_map(list(dict.fromkeys(p.doc_id for p in pool)))
        order = prefer([p.score for p in pool], year_matches(pool, docs, years),
                       self.config.retrieval.year_bonus)
        return [pool[i] for i in order[:k]]

    def ask(self, question: str, k: int = 5, filters: Filters | None = None,
            history: Sequence[Turn] | list[dict] | None = None) -> QAResult:
        """Answers copied from the documents, with citations, or ``no_answer``.

        ``history``: earlier turns of the conversation, oldest first (:class:`Turn` or JSON
        ``{"question", "answer"?, "doc_id"?}``); a follow-up is resolved against them
        (:mod:`qa.conversation`) and ``QAResult.understood`` says how.
        """
        question = clean_question(question, self.config.max_question_chars)
        k = check_k(k, self.config.max_k)
        turns = parse_history(history)
        backend = self._retrieval()
        _check_filters(backend, filters)
        # A question typed without diacritics is read with the corpus's spelling restored.
        query = make_query(question, backend)
        restored = query.restored
        resolved = resolve(restored, self._cited(backend, turns), _rare_words(backend)) \
            if turns else Resolved(restored, restored)
        if not resolved.used_history and is_vague(restored):
            return QAResult(question=question, no_answer=True, vague=True,
                            clarification=clarification(restored))
        n = max(k, self.config.reader.passages)
        if resolved.used_history:
            passages, resolved = self._rank_resolved(backend, query, resolved, n, filters)
        else:
            passages = self._rank(backend, query, n, filters)
        answers = self.reader.read(resolved.question, passages,
                                   backend.documents_map([p.doc_id for p in passages]))
        answers = with_confidence(answers[: self.config.reader.max_answers], self.calibration,
                                  getattr(self.reader, "kind", "heuristic"), resolved.question)
        from qa.reader import is_no_answer

        refused = is_no_answer(answers, self.no_answer_threshold)
        return QAResult(question=question, no_answer=refused,
                        answers=() if refused else tuple(answers), passages=tuple(passages[:k]),
                        undated_excluded=_undated_excluded(backend, filters),
                        understood=resolved.understood if resolved.used_history else None)

    def _cited(self, backend: SearchEngine, turns: Sequence[Turn]) -> list[Turn]:
        """``turns`` with questions typed without diacritics restored, and the document of
        each of the last two answers filled in when the caller did not say (found by
        searching the turn's question and answer text)."""
        out = [Turn(make_query(t.question, backend).restored, t.answer, t.doc_id)
               for t in turns]
        for i in range(max(0, len(out) - 2), len(out)):
            t = out[i]
            if t.doc_id is None and t.answer:
                hits = self._fused(backend, make_query(f"{t.question} {t.answer}", backend),
                                   None, 1, None, "bm25")
                out[i] = Turn(t.question, t.answer, hits[0].doc_id if hits else None)
        return out

    def _rank_resolved(self, backend: SearchEngine, question: Query, resolved: Resolved,
                       n: int, filters: Filters | None) -> tuple[list[Passage], Resolved]:
        """Passages for a follow-up: its query, with the documents cited earlier preferred
        (searched on their own too, so they are candidates). A soft follow-up ("topic",
        "loose") whose own question is ranked first in another document (by both dense and
        BM25; for "loose" nearly so) stands alone after all: the second half of the guard."""
        if resolved.reason in SOFT_REASONS:
            plain = self._rank(backend, question, n, filters)
            bar = CONFIDENT if resolved.reason == "topic" else CONFIDENT_LOOSE
            if plain and plain[0].score >= bar and \
                    plain[0].doc_id not in resolved.prefer_doc_ids:
                return plain, Resolved(resolved.question, resolved.question)
        query = make_query(resolved.query, backend)
        vec = self.embedder.encode_queries([query.restored])
        ranked = self._fused(backend, query, vec, n * 2, filters)
        within = _within(filters, resolved.prefer_doc_ids)
        if within is not None:
            ranked = ranked + self._fused(backend, query, vec, n, within)
        bonus = self.config.retrieval.history_bonus
        return prefer_documents(ranked, resolved.prefer_doc_ids, bonus)[:n], resolved

    # -- documents --------------------------------------------------------------------------
    def documents(self) -> list[Document]:
        """Every indexed document, by id."""
        return self._retrieval().documents()

    def document(self, doc_id: str) -> Document:
        """One indexed document; :class:`DocumentNotFoundError` for an unknown id."""
        doc = self._retrieval().document(doc_id)
        if doc is None:
            raise DocumentNotFoundError(
                f"no document {doc_id!r} in the index (list them with: hoidap show --list)")
        return doc

    # -- changes ----------------------------------------------------------------------------
    def add(self, paths: Sequence[Path], progress: Progress | None = None) -> BuildReport:
        """Index (or re-index) files; queries keep the old index until the new one is ready."""
        return self.update(paths, progress=progress)

    def remove(self, doc_ids: Sequence[str]) -> BuildReport:
        """Drop documents from the index."""
        return self.update((), remove=doc_ids)

    def update(self, paths: Sequence[Path], *, remove: Sequence[str] = (), fresh: bool = False,
               progress: Progress | None = None,
               dates: Mapping[str, str] | None = None) -> BuildReport:
        """Add/update ``paths``, drop ``remove`` and set user ``dates`` (doc id -> ISO date,
        nothing re-embedded) in one new index version."""
        with self._build_lock:
            current = self._retriever  # one opened now is on the version on disk: the writer
            target = open_engine(self.config, create=True, fresh=fresh) if current is None \
                else current.writer(fresh)
            report = write_documents(target, list(paths), self.config, self.embedder,
                                     remove=remove, fresh=fresh, progress=progress,
                                     dates=dates)
            if current is not None:  # serving: read the new segments now, not mid-question
                getattr(target, "load_all", lambda: None)()
            with self._load_lock:
                self._retriever = target
            return report

    def update_elsewhere(self, run: Callable[[], BuildReport]) -> BuildReport:
        """Run ``run``, an index change made outside this engine (e.g. by a worker process
        writing a new version of the folder), under the build lock, then switch to the version
        it wrote. Queries keep being answered meanwhile, on the version they began with."""
        with self._build_lock:
            report = run()
            if report.changed and self._retriever is not None:
                self.reload()
            return report


def _rare_words(backend: SearchEngine):
    """Whether a word is specific to a few passages of the local index (None elsewhere)."""
    from qa.conversation import RARE_MIN_CHUNKS, RARE_SHARE

    bm25 = getattr(getattr(backend, "index", None), "bm25", None)
    if bm25 is None or getattr(bm25, "size", 0) < RARE_MIN_CHUNKS:
        return None

    return lambda word: 0.0 < bm25.doc_share(word) <= RARE_SHARE


def _undated_excluded(backend: SearchEngine, filters: Filters | None) -> int:
    """:meth:`QAEngine.undated_excluded` on ``backend`` (the version a question began with)."""
    if filters is None or not filters.dated or filters.include_undated:
        return 0
    return backend.undated(filters.doc_ids)


def _within(filters: Filters | None, doc_ids: Sequence[str]) -> Filters | None:
    """``filters`` narrowed to ``doc_ids`` (None when there is nothing left to search)."""
    if not doc_ids:
        return None
    if filters is None:
        return make_filters(doc_ids)
    ids = [d for d in doc_ids if filters.doc_ids is None or d in filters.doc_ids]
    return make_filters(ids, filters.date_from, filters.date_to, filters.include_undated) \
        if ids else None


def prefer_documents(passages: Sequence[Passage], doc_ids: Sequence[str],
                     bonus: float) -> list[Passage]:
    """Passages (duplicates merged, best score kept) re-ranked with ``bonus`` added to the
    score of those from ``doc_ids``; scores stay in [0, 1]."""
    best: dict[str, Passage] = {}
    for p in passages:
        if p.chunk_id not in best or p.score > best[p.chunk_id].score:
            best[p.chunk_id] = p
    preferred = set(doc_ids)
    scored = [replace(p, score=min(1.0, p.score + bonus)) if p.doc_id in preferred else p
              for p in best.values()]
    return sorted(scored, key=lambda p: -p.score)


def _check_filters(backend: SearchEngine, filters: Filters | None) -> None:
    """Reject malformed filters and document ids the backend does not hold."""
    ids = filters.doc_ids if filters is not None and filters.doc_ids else ()
    check_filters(filters, [d.doc_id for d in backend.documents(ids)] if ids else [])
