"""Checks on user input at the edge of the library."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from hoidap.errors import InputError, QuestionError
from qa.types import Filters

_ALLOWED_CONTROLS = {"\t", "\n", "\r"}
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def clean_question(question: object, max_chars: int) -> str:
    """NFC, stripped question; :class:`QuestionError` when empty, too long or with controls."""
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, got {type(question).__name__}")
    text = unicodedata.normalize("NFC", question).strip()
    if not text:
        raise QuestionError("the question is empty: type a question, e.g. "
                            "'Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?'")
    if len(text) > max_chars:
        raise QuestionError(
            f"the question has {len(text)} characters; the limit is {max_chars}: shorten it")
    bad = sorted({c for c in text if unicodedata.category(c) in ("Cc", "Cs")
                  and c not in _ALLOWED_CONTROLS})
    if bad:
        codes = ", ".join(f"U+{ord(c):04X}" for c in bad[:5])
        raise QuestionError(f"the question contains control characters ({codes}): remove them")
    return " ".join(text.split())


def check_k(k: object, max_k: int) -> int:
    """A number of results between 1 and ``max_k``."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= max_k:
        raise InputError(f"k must be a whole number from 1 to {max_k}, got {k!r}")
    return k


def check_filters(filters: Filters | None, known_docs: Sequence[str]) -> None:
    """Reject malformed dates, reversed ranges and unknown document ids."""
    if filters is None:
        return
    for name in ("date_from", "date_to"):
        value = getattr(filters, name)
        if value is not None and not _ISO.match(value):
            raise InputError(f"{name} must be a date like 2021-09-24, got {value!r}")
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InputError(
            f"date_from {filters.date_from} is after date_to {filters.date_to}; swap them")
    if filters.doc_ids is not None:
        known = set(known_docs)
        unknown = [d for d in filters.doc_ids if d not in known]
        if unknown:
            raise InputError(f"unknown document id(s) in filter: {', '.join(unknown[:5])}")
