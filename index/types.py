"""Data that flows out of ingestion: documents and their chunks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """A cleaned document. ``text`` is the cleaned text all offsets point into."""

    doc_id: str
    title: str
    date: str | None  # ISO ``YYYY-MM-DD``: the day of the event the report is about
    source: str  # path (or name) it was loaded from
    text: str
    content_hash: str  # sha256 of ``text``
    date_source: str | None = None  # where ``date`` came from (see index.dates.Dating; "user")
    published: str | None = None  # the page's own date (byline or header line)
    published_source: str | None = None  # "byline" or "header"


@dataclass(frozen=True)
class Chunk:
    """A span of a document's cleaned text: ``doc.text[start:end] == text``."""

    chunk_id: str
    doc_id: str
    start: int
    end: int
    paragraph: int  # 1-based paragraph number of ``start`` in the document
    text: str
