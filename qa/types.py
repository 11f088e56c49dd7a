"""Data that flows out of question answering: passages, citations, answers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its document metadata and fused score."""

    chunk_id: str
    doc_id: str
    title: str
    date: str | None
    source: str
    paragraph: int
    text: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict:
        """The passage as it appears in the JSON contract."""
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "date": self.date,
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 6),
        }


@dataclass(frozen=True)
class Citation:
    """Where an answer comes from: offsets into the document's cleaned text."""

    doc_id: str
    title: str
    date: str | None
    source: str
    paragraph: int
    start: int
    end: int
    published: str | None = None  # the page's own date when it shows one (may differ)

    def to_dict(self) -> dict:
        """The citation as it appears in the JSON contract."""
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "date": self.date,
            "published": self.published,
            "source": self.source,
            "paragraph": self.paragraph,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True)
class Answer:
    """A verbatim span of a document with its reader's raw score in [0, 1] and, when the
    engine has a calibration table, its ``confidence``: the share of answers at that score
    that were right on held-out data, and its level ("high", "medium", "low")."""

    text: str
    score: float
    citation: Citation
    passage_text: str
    passage_start: int
    passage_end: int
    confidence: float | None = None
    confidence_level: str | None = None

    def to_dict(self) -> dict:
        """The answer as it appears in the JSON contract."""
        return {
            "text": self.text,
            "score": round(float(self.score), 6),
            "confidence": None if self.confidence is None else round(float(self.confidence), 4),
            "confidence_level": self.confidence_level,
            "citation": self.citation.to_dict(),
            "passage": {
                "text": self.passage_text,
                "start": self.passage_start,
                "end": self.passage_end,
            },
        }


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some documents and/or a date range (ISO dates, inclusive).

    Undated documents are outside any date range unless ``include_undated``; the result then
    says how many were left out (:attr:`QAResult.undated_excluded`).
    """

    doc_ids: tuple[str, ...] | None = None
    date_from: str | None = None
    date_to: str | None = None
    include_undated: bool = False

    @property
    def dated(self) -> bool:
        """Does a date bound apply?"""
        return bool(self.date_from or self.date_to)


def make_filters(doc_ids: Sequence[str] | None = None, date_from: str | None = None,
                 date_to: str | None = None, include_undated: bool = False) -> Filters | None:
    """Filters from optional form/API/CLI fields (blank dates are unset); None when no
    document or date restriction is asked for."""
    ids = tuple(doc_ids) if doc_ids is not None else None
    date_from = (date_from or "").strip() or None
    date_to = (date_to or "").strip() or None
    if ids is None and date_from is None and date_to is None:
        return None
    return Filters(ids, date_from, date_to, include_undated)


@dataclass(frozen=True)
class QAResult:
    """The answer to one question: the JSON contract of ``hoidap ask --json``."""

    question: str
    no_answer: bool
    answers: tuple[Answer, ...] = field(default_factory=tuple)
    passages: tuple[Passage, ...] = field(default_factory=tuple)
    undated_excluded: int = 0  # undated documents a date filter left out (0: none or included)
    understood: str | None = None  # how a follow-up was read with the history, else None
    vague: bool = False  # too vague to answer (then no_answer too); see qa/vague.py
    clarification: str | None = None  # the request to be more specific, when vague

    def to_dict(self) -> dict:
        """The stable JSON shape documented in the README."""
        return {
            "question": self.question,
            "understood": self.understood,
            "no_answer": self.no_answer,
            "vague": self.vague,
            "clarification": self.clarification,
            "answers": [a.to_dict() for a in self.answers],
            "passages": [p.to_dict() for p in self.passages],
            "undated_excluded": self.undated_excluded,
        }
