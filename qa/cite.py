"""Cite: turn a span of a passage into an :class:`Answer` whose offsets index its document."""

from __future__ import annotations

from collections.abc import Mapping

from index.sentences import paragraph_breaks
from index.types import Document
from qa.types import Answer, Citation, Passage


def make_answer(passage: Passage, start: int, end: int, score: float,
                documents: Mapping[str, Document]) -> Answer | None:
    """An answer for ``passage.text[start:end]``; None unless it is verbatim in its document.

    Every reader builds its answers here, so ``doc.text[citation.start:citation.end] ==
    answer.text`` holds for all of them.
    """
    doc = documents.get(passage.doc_id)
    text = passage.text[start:end]
    a, b = passage.start + start, passage.start + end
    if doc is None or not text.strip() or doc.text[a:b] != text:
        return None
    citation = Citation(doc_id=passage.doc_id, title=passage.title, date=passage.date,
                        source=passage.source,
                        paragraph=passage.paragraph + paragraph_breaks(passage.text, start),
                        start=a, end=b, published=doc.published)
    return Answer(text=text, score=float(min(1.0, max(0.0, score))), citation=citation,
                  passage_text=passage.text, passage_start=passage.start,
                  passage_end=passage.end)
