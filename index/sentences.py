"""Vietnamese-aware paragraph, sentence and clause spans with exact character offsets.

A careful regex splitter rather than ``underthesea.sent_tokenize``: the latter returns
strings (offsets would have to be recovered), and it splits after ``PGS.TS.`` and inside
quotes (``"Câu." Sau`` -> ``"Câu.`` / ``" Sau``), which this splitter gets right.

Rules, in order:

* every run of line breaks is a paragraph break, and a paragraph break ends a sentence;
* inside a paragraph a sentence ends after ``.``, ``!``, ``?`` or ``…`` (runs like ``...``
  or ``?!`` count as one), plus any closing quotes/brackets, when whitespace and then an
  uppercase letter, a digit, or an opening quote/bracket follow;
* a single ``.`` does not end a sentence after a known abbreviation (``TP.``, ``ThS.``,
  ``PGS.TS.``, ``v.v.``, ``St.`` ...), after a one-letter ASCII initial
  (``George W. Bush``), or
  after a list marker that opens the sentence (``1.``, ``2.1.``, ``IV.``, ``a.``);
* numbers such as ``3.945,25``, ``1.213.353`` or ``04/11/1831`` never split because no
  whitespace follows their dots.

The reader also cuts long sentences into clauses (:func:`clause_spans`) and a citation counts
paragraph breaks (:func:`paragraph_breaks`).
"""

from __future__ import annotations

import re

Span = tuple[int, int]

_LINE = re.compile(r"[^\n\r\v\f\x1c-\x1e\x85\u2028\u2029]+")
_LINE_BREAK_RE = re.compile(r"[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]")
_CLOSERS = "\"'”’»)\\]}"
_OPENERS = "\"'“‘«([{"
# terminator run, closing quotes/brackets, then (lookahead) whitespace and the next char
_END = re.compile(r"[.!?…]+[" + re.escape(_CLOSERS) + r"]*(?=\s+(\S))")
_TOKEN_TAIL = re.compile(r"[\w.]+$")
_LIST_MARKER = re.compile(r"\d{1,3}(?:\.\d{1,3})*|[IVXLCDM]{1,6}|[a-zđ]")
_INITIAL = re.compile(r"[A-Z]")  # "George W. Bush"; not "nước Ý." nor "30 °C."
_TOKEN_WINDOW = 40

ABBREVIATIONS: frozenset[str] = frozenset(
    {
        # Vietnamese titles and places
        "TP", "Tp", "tp", "ThS", "Ths", "Th.S", "TS", "PGS", "GS", "BS", "BSCKI", "BSCKII",
        "CKI", "CKII", "KS", "CN", "NCS", "NSND", "NSƯT", "NGND", "NGƯT", "TT", "TX", "Tx",
        "Nxb", "NXB", "tr", "Tr", "v.v", "ĐC",
        # common foreign ones (initials like "W." are handled separately)
        "St", "Mr", "Mrs", "Ms", "Dr", "Prof", "Jr", "Sr", "Gen", "Lt", "Capt", "Mt", "Ft",
        "vs", "Vol", "pp", "approx", "e.g", "i.e", "a.m", "p.m",
    }
)  # fmt: skip


def paragraph_spans(text: str) -> list[Span]:
    """Trimmed spans of the non-blank paragraphs; any run of line breaks separates two."""
    spans: list[Span] = []
    for match in _LINE.finditer(text):
        start, end = _trim(text, match.start(), match.end())
        if start < end:
            spans.append((start, end))
    return spans


def split_sentences(text: str, start: int = 0) -> list[Span]:
    """Trimmed sentence spans of ``text``, shifted by ``start``.

    ``start`` is the offset of ``text`` inside the enclosing document, so
    ``split_sentences(doc[a:b], a)`` returns offsets into ``doc``.
    """
    spans: list[Span] = []
    for para_start, para_end in paragraph_spans(text):
        for sent_start, sent_end in _split_paragraph(text, para_start, para_end):
            spans.append((sent_start + start, sent_end + start))
    return spans


def _split_paragraph(text: str, start: int, end: int) -> list[Span]:
    """Sentence spans of one trimmed, single-line paragraph ``text[start:end]``."""
    spans: list[Span] = []
    sent_start = start
    for match in _END.finditer(text, start, end):
        if not _starts_sentence(match.group(1)):
            continue
        if match.group(0)[0] == "." and _keeps_period(text, sent_start, match.start()):
            continue
        spans.append((sent_start, match.end()))
        sent_start = match.start(1)
    spans.append((sent_start, end))
    return spans


def _starts_sentence(char: str) -> bool:
    """Whether ``char`` may open a new sentence: uppercase, digit, opening quote/bracket."""
    return char.isupper() or char.isdigit() or char in _OPENERS


def _keeps_period(text: str, sent_start: int, dot: int) -> bool:
    """Whether the ``.`` at ``dot`` belongs to an abbreviation, initial or list marker."""
    if text[dot : dot + 2] == "..":
        return False
    match = _TOKEN_TAIL.search(text, max(sent_start, dot - _TOKEN_WINDOW), dot)
    if match is None:
        return False
    token, before = match.group(0), text[match.start() - 1 : match.start()]
    is_initial = _INITIAL.fullmatch(token) is not None and before != "°"
    is_marker = match.start() == sent_start and _LIST_MARKER.fullmatch(token) is not None
    return is_abbreviation(token) or is_initial or is_marker


def is_abbreviation(token: str) -> bool:
    """Whether ``token`` (the word before a period, without it) is a known abbreviation.

    Compound titles count by their last part: ``PGS.TS`` -> ``TS``.
    """
    token = token.strip(".")
    return token in ABBREVIATIONS or token.rsplit(".", 1)[-1] in ABBREVIATIONS


def _trim(text: str, start: int, end: int) -> Span:
    """``(start, end)`` narrowed past leading and trailing whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def clause_spans(text: str, start: int, end: int, min_chars: int = 120) -> list[Span]:
    """A long sentence ``text[start:end]`` cut at semicolons into trimmed clauses."""
    if end - start <= min_chars:
        return [(start, end)]
    out: list[Span] = []
    # a semicolon inside quotes ("“...; ...”") does not end a clause
    for m in re.finditer(r"(?:“[^”]*”|\"[^\"]*\"|[^;])+;?", text[start:end]):
        a, b = _trim(text, start + m.start(), start + m.end())
        if b > a:
            out.append((a, b))
    return out


def paragraph_breaks(text: str, pos: int) -> int:
    """Paragraph breaks (runs of line breaks) between the start of ``text`` and ``pos``."""
    spans = paragraph_spans(text)
    opened = sum(1 for start, _ in spans if start <= pos)
    starts_inside = bool(spans) and not _LINE_BREAK_RE.search(text[: spans[0][0]])
    return max(0, opened - 1) if starts_inside else opened
