"""Years a question names ("năm 2021", "2020"), and which passages are about them."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from index.dates import text_years
from index.types import Document
from qa.types import Passage

_YEAR_RE = re.compile(r"(?<![\d.,/-])((?:19|20)\d{2})(?![\d.,/-]\d|\d)")


def named_years(question: str) -> frozenset[str]:
    """Four-digit years from 1900 to 2099 written in ``question``."""
    return frozenset(m[1] for m in _YEAR_RE.finditer(question))


MAIN_YEAR_CHARS = 20_000  # a report's main year shows in its opening pages


def main_year(text: str, title: str) -> str | None:
    """The year a document is most about (:func:`index.dates.text_years` over its opening
    ``MAIN_YEAR_CHARS`` characters, so the cost per query stays bounded), if any."""
    years = text_years(text[:MAIN_YEAR_CHARS], title)
    return str(max(years, key=lambda y: (years[y], y))) if years else None


def about_years(passage: Passage, doc: Document | None, years: frozenset[str]) -> bool:
    """Is ``passage`` about one of ``years``: its text names it, or its document is dated in
    it, names it in the title or is mostly about it?"""
    if not years:
        return False
    if any(y in {m[1] for m in _YEAR_RE.finditer(passage.text)} for y in years):
        return True
    if doc is None:
        return False
    return (bool(doc.date and doc.date[:4] in years) or bool(named_years(doc.title) & years)
            or main_year(doc.text, doc.title) in years)


def year_matches(passages: Sequence[Passage], docs: Mapping[str, Document],
                 years: frozenset[str]) -> list[bool]:
    """:func:`about_years` for each passage."""
    return [about_years(p, docs.get(p.doc_id), years) for p in passages]
