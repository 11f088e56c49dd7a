"""Offsets-preserving passage geometry for the reader: clauses and paragraph breaks.

Everything here is pure and keeps character offsets into the text it was given, so spans
found on clauses can be cited verbatim. Folding, tokens and diacritics checks live in
:mod:`index.text`, sentences in :mod:`index.sentences`.
"""

from __future__ import annotations

import re

from index.sentences import paragraph_spans

_LINE_BREAK_RE = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")


def clause_spans(text: str, start: int, end: int, min_chars: int = 120) -> list[tuple[int, int]]:
    """A long sentence ``text[start:end]`` cut at semicolons into trimmed clauses."""
    if end - start <= min_chars:
        return [(start, end)]
    out: list[tuple[int, int]] = []
    # a semicolon inside quotes ("“...; ...”") does not end a clause
    for m in re.finditer(r"(?:“[^”]*”|\"[^\"]*\"|[^;])+;?", text[start:end]):
        a, b = start + m.start(), start + m.end()
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            out.append((a, b))
    return out


def paragraph_breaks(text: str, pos: int) -> int:
    """Paragraph breaks (runs of line breaks) between the start of ``text`` and ``pos``."""
    spans = paragraph_spans(text)
    opened = sum(1 for start, _ in spans if start <= pos)
    starts_inside = bool(spans) and not _LINE_BREAK_RE.search(text[: spans[0][0]])
    return max(0, opened - 1) if starts_inside else opened
