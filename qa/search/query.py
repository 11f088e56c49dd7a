"""The query a question becomes once, before any engine ranks it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from index.restore import restore
from index.text import has_marks, normalize

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[str, ...] = ("hybrid", "dense", "bm25")
MIN_COVERAGE = 0.6  # share of corpus syllables for a mark-less query to count as Vietnamese


@dataclass(frozen=True)
class Vocabulary:
    """What an engine's corpus knows of a text: the share of its folded syllables it holds,
    and folded syllable (or pair) -> the corpus's accented spelling."""

    coverage: float
    table: Mapping[str, str]


class KnowsVocabulary(Protocol):
    """The part of a search engine a query is built with."""

    def vocabulary(self, text: str) -> Vocabulary: ...


@dataclass(frozen=True)
class Query:
    """One question as every stage sees it: ``typed`` (as asked), ``text`` (normalised:
    NFC, one tone placement), ``restored`` (``text`` with the corpus's diacritics put back
    when it was typed without them and is mostly the corpus's syllables), ``has_marks``
    and ``coverage`` (share of its folded syllables the corpus holds)."""

    typed: str
    text: str
    restored: str
    has_marks: bool
    coverage: float


def restored_text(text: str, marks: bool, vocab: Vocabulary) -> str:
    """``text`` with diacritics restored when it has none and the corpus knows it."""
    if marks or vocab.coverage < MIN_COVERAGE:
        return text
    return restore(text, vocab.table)  # type: ignore[arg-type]  # read with .get only


def make_query(typed: str, engine: KnowsVocabulary) -> Query:
    """The :class:`Query` of ``typed`` over ``engine``'s corpus (one vocabulary look-up)."""
    text = normalize(typed)
    vocab = engine.vocabulary(text)
    marks = has_marks(text)
    return Query(typed, text, restored_text(text, marks, vocab), marks, vocab.coverage)
