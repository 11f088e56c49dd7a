"""Split a cleaned document into sentence-aware, paragraph-respecting chunks.

Policy (``ChunkingConfig``: ``max_chars``, ``overlap_sentences``, ``min_chars``):

* The document is cut into *units*: sentences (see :mod:`index.sentences`); a sentence
  longer than ``max_chars`` is cut at word boundaries, preferably after a clause mark, into
  pieces of at most ``max_chars // 2`` so that consecutive pieces can overlap (a single
  word longer than that is cut hard).
* Units are packed greedily in document order; a chunk never exceeds ``max_chars``
  characters (``end - start``, inner paragraph breaks included).
* A paragraph break closes the current chunk once it has ``min_chars`` characters. A
  shorter chunk (a heading, a one-line caption) keeps taking the next paragraph's
  sentences while they fit, so tiny paragraphs are merged forward instead of becoming
  useless chunks. A tiny last chunk is merged back into the previous one when it fits.
* A chunk closed by ``max_chars`` in the middle of a paragraph is followed by one that
  repeats its last ``overlap_sentences`` units (fewer when they would not fit). There is
  no overlap across a paragraph break.

Every chunk satisfies ``doc.text[chunk.start:chunk.end] == chunk.text``, and every
non-whitespace character of the document lies in at least one chunk.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import NamedTuple

from hoidap.config import ChunkingConfig
from hoidap.errors import InputError
from index.sentences import paragraph_spans, split_sentences
from index.types import Chunk, Document

_WORD = re.compile(r"\S+")


class Unit(NamedTuple):
    """A sentence (or a piece of a long one): ``text[start:end]`` in ``paragraph``."""

    start: int
    end: int
    paragraph: int  # 1-based


def chunk_id(source: str, start: int, end: int, text: str) -> str:
    """Deterministic id: sha256 over ``(source, start, end, text)``, first 16 hex chars."""
    payload = json.dumps([source, start, end, text], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def chunk_document(doc: Document, cfg: ChunkingConfig) -> list[Chunk]:
    """The chunks of ``doc`` in document order (empty for a blank document)."""
    check_config(cfg)
    units = text_units(doc.text, cfg.max_chars)
    chunks = []
    for first, last in pack_units(units, cfg):
        start, end = units[first].start, units[last].end
        text = doc.text[start:end]
        chunks.append(
            Chunk(
                chunk_id=chunk_id(doc.source, start, end, text),
                doc_id=doc.doc_id,
                start=start,
                end=end,
                paragraph=units[first].paragraph,
                text=text,
            )
        )
    return chunks


def check_config(cfg: ChunkingConfig) -> None:
    """Raise :class:`InputError` for settings that cannot produce valid chunks."""
    if cfg.max_chars < 1:
        raise InputError(f"chunking max_chars={cfg.max_chars} must be at least 1 (default 900)")
    if cfg.overlap_sentences < 0:
        raise InputError(
            f"chunking overlap_sentences={cfg.overlap_sentences} must be 0 or more (default 1)"
        )
    if cfg.min_chars < 0:
        raise InputError(f"chunking min_chars={cfg.min_chars} must be 0 or more (default 200)")


def text_units(text: str, max_chars: int) -> list[Unit]:
    """Sentences of ``text`` (long ones cut to ``max_chars``) tagged with paragraph numbers."""
    units: list[Unit] = []
    for number, (para_start, para_end) in enumerate(paragraph_spans(text), start=1):
        for sent_start, sent_end in split_sentences(text[para_start:para_end], para_start):
            for start, end in split_long(text, sent_start, sent_end, max_chars):
                units.append(Unit(start, end, number))
    return units


def split_long(text: str, start: int, end: int, max_chars: int) -> list[tuple[int, int]]:
    """``text[start:end]`` whole if it fits in ``max_chars``, else cut between words.

    Pieces are at most ``max_chars // 2`` long, so two of them (one of overlap) fit in a
    chunk; a cut after a clause mark (``;`` ``,`` ``:``) is preferred when the piece stays
    at least half that long. A word longer than a piece is cut hard.
    """
    if end - start <= max_chars:
        return [(start, end)]
    limit = max(1, max_chars // 2)
    words = _word_spans(text, start, end, limit)
    pieces: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        j = i
        while j + 1 < len(words) and words[j + 1][1] - words[i][0] <= limit:
            j += 1
        if j + 1 < len(words):
            j = _clause_cut(text, words, i, j, limit // 2)
        pieces.append((words[i][0], words[j][1]))
        i = j + 1
    return pieces


def _word_spans(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Spans of the words of ``text[start:end]``, words longer than ``limit`` cut hard."""
    spans: list[tuple[int, int]] = []
    for word in _WORD.finditer(text, start, end):
        spans.extend((a, min(a + limit, word.end())) for a in range(*word.span(), limit))
    return spans


def _clause_cut(text: str, words: list[tuple[int, int]], i: int, j: int, min_len: int) -> int:
    """Index of the last word in ``words[i..j]`` ending a clause far enough in, else ``j``."""
    for k in range(j, i - 1, -1):
        if words[k][1] - words[i][0] < min_len:
            break
        if text[words[k][1] - 1] in ";,:":
            return k
    return j


def pack_units(units: list[Unit], cfg: ChunkingConfig) -> list[tuple[int, int]]:
    """Greedy packing of units into chunks, as inclusive ``(first, last)`` unit indexes."""
    if not units:
        return []
    groups: list[tuple[int, int]] = []
    first = 0
    for j in range(1, len(units)):
        fits = units[j].end - units[first].start <= cfg.max_chars
        new_paragraph = units[j].paragraph != units[j - 1].paragraph
        full = units[j - 1].end - units[first].start >= cfg.min_chars
        if fits and not (new_paragraph and full):
            continue
        groups.append((first, j - 1))
        first = j if new_paragraph else overlap_start(units, first, j, cfg)
    groups.append((first, len(units) - 1))
    return merge_tiny_tail(units, groups, cfg)


def overlap_start(units: list[Unit], first: int, j: int, cfg: ChunkingConfig) -> int:
    """First unit of the chunk after ``units[first:j]``: repeat up to the overlap that fits."""
    start = max(first + 1, j - cfg.overlap_sentences)
    while start < j and units[j].end - units[start].start > cfg.max_chars:
        start += 1
    return start


def merge_tiny_tail(
    units: list[Unit], groups: list[tuple[int, int]], cfg: ChunkingConfig
) -> list[tuple[int, int]]:
    """Fold a last chunk shorter than ``min_chars`` into the previous one when it fits."""
    if len(groups) < 2:
        return groups
    (prev_first, prev_last), (first, last) = groups[-2], groups[-1]
    tiny = units[last].end - units[first].start < cfg.min_chars
    fits = units[last].end - units[prev_first].start <= cfg.max_chars
    if tiny and fits and first > prev_last:
        return [*groups[:-2], (prev_first, last)]
    return groups


def embedding_text(doc: Document, chunk: Chunk) -> str:
    """What is embedded for ``chunk``: ``"{title}\n{text}"``.

    The title is left out when the chunk already starts with it. The date is not embedded, so
    correcting a document's date re-embeds nothing. Offsets are unaffected: this text is only
    embedded, never cited.
    """
    title = " ".join(doc.title.split())
    if title and " ".join(chunk.text.split()).startswith(title):
        title = ""
    return f"{title}\n{chunk.text}" if title else chunk.text
