"""Span-level features of the heuristic reader: the candidate spans a sentence offers for a
question, where the question's terms sit, and the penalties a candidate takes. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from index.text import Token, fold_lower
from qa import scoring
from qa.qtype import QuestionInfo
from qa.spans import (
    Candidate,
    extract,
    predicate_candidates,
    quote_candidates,
    role_candidates,
)

SUBITEM_PENALTY = 0.4
PLAN_PENALTY = 1.2  # a target ("phấn đấu", "mục tiêu") when an achieved figure is asked


@dataclass(frozen=True)
class QuestionTerms:
    """Content words of a question, their folded forms, and whether to match folded only."""

    terms: tuple[str, ...]
    folded: tuple[str, ...]
    fold_only: bool
    bigrams: frozenset[tuple[str, str]]


def asks_plan(question: str) -> bool:
    """True when the question is about a target or a plan, not an achieved figure."""
    q = question.lower()
    return (any(w in q for w in scoring.PLAN_WORDS)
            or re.search(r"\b(targets?|goals?|plan|planned|aims?|expected)\b", q) is not None)


def asks_period(question: str, info: QuestionInfo) -> bool:
    """True when the question itself names a part of a year (months, a quarter, mid-year)."""
    if info.english:
        return re.search(r"\b(months?|quarter|mid|half)\b", question.lower()) is not None
    return re.search(r"\b(thang|quy|giua nam|dau nam)\b", fold_lower(question)) is not None


def sentence_candidates(text: str, info: QuestionInfo) -> list[Candidate]:
    """Candidate spans of a sentence for this kind of question."""
    if info.qtype == "definition":
        return predicate_candidates(text) + quote_candidates(text) + role_candidates(text)
    if info.qtype == "entity":
        return extract(text, info.head) + quote_candidates(text)
    return extract(text, info.head)


def term_positions(terms: QuestionTerms, weights: Mapping[str, float], tokens: Sequence[Token],
                    positions: Sequence[float]) -> dict[str, list[float]]:
    """Stretched positions of each question term in a sentence (folded matches included)."""
    key = terms.folded if terms.fold_only else terms.terms
    wanted = dict(zip(terms.folded, key, strict=False))
    out: dict[str, list[float]] = {}
    for tok, pos in zip(tokens, positions, strict=False):
        term = tok.norm if tok.norm in weights and not terms.fold_only else wanted.get(
            fold_lower(tok.norm))
        if term is not None:
            out.setdefault(term, []).append(pos)
    return out


def token_span(tokens: Sequence[Token], positions: Sequence[float],
                cand: Candidate) -> tuple[float, float]:
    """Stretched token positions ``[first, last + 1)`` covered by a candidate."""
    inside = [p for t, p in zip(tokens, positions, strict=False)
              if t.start < cand.end and cand.start < t.end]
    if not inside:
        return (0.0, 0.0)
    return (inside[0], inside[-1] + 1.0)


def in_question(text: str, cand: Candidate, question: str) -> bool:
    """True when the candidate's figure or name already appears in the question."""
    core = fold_lower(text[cand.core_start:cand.core_end]).strip()
    q = " " + " ".join(re.findall(r"[\w.,/%]+", fold_lower(question))) + " "
    return bool(core) and f" {core} " in q.replace("?", " ")


def penalty(text: str, cand: Candidate, question: str) -> float:
    """Penalties: figure/name already in the question; a percent of plan when not asked."""
    penalty = 2.5 if in_question(text, cand, question) else 0.0
    before = re.split(r"[,;:(]", text[max(0, cand.start - 60):cand.start].lower())[-1]
    if re.match(r"\W*trong (số )?đó\b", text.lower()) and "trong đó" not in question.lower():
        penalty += SUBITEM_PENALTY  # "X đạt A; trong đó Y đạt B": B is a part, not X
    if any(w in before for w in scoring.PLAN_WORDS) and not asks_plan(question):
        penalty += PLAN_PENALTY
    if cand.kind == "percent":
        after = text[cand.end:cand.end + 15].lower().lstrip()
        q = question.lower()
        if any(after.startswith(w) and w not in q for w in scoring.RATIO_WORDS):
            penalty += 0.8
    if cand.kind in {"name", "person", "place", "list"}:
        words = [fold_lower(w) for w in text[cand.start:cand.end].split()]
        words = words[len(cand.unit.split()):] if " ".join(words).startswith(cand.unit) and \
            cand.unit else words  # "Đại học ..." asked as "trường đại học nào"
        qwords = set(fold_lower(question).split())
        if words and sum(w in qwords for w in words) / len(words) >= 0.5:
            penalty += 1.5
    return penalty
