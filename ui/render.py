"""Pure HTML rendering for the chat and the document viewer.

Every piece of document or user text goes through :func:`html.escape` before any
``<mark>`` is added, so a document containing ``<script>`` shows as text. Chat
fragments never contain a newline: Gradio's Markdown renderer then keeps them as one
HTML block and does not reinterpret ``*``, ``#`` or ``1.`` inside document text.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from urllib.parse import quote

from index.types import Document
from qa.calibration import confidence_text
from qa.types import Answer, Passage, QAResult

NO_ANSWER = "Không tìm thấy câu trả lời trong tài liệu"
VIEWER_SCRIPT = "document.getElementById('hl')?.scrollIntoView({block:'center'});"
VIEWER_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-"
              + base64.b64encode(hashlib.sha256(VIEWER_SCRIPT.encode()).digest()).decode()
              + "'; base-uri 'none'; form-action 'none'")


def clamp_span(length: int, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` moved inside ``[0, length]`` with ``start <= end``."""
    start = min(max(start, 0), length)
    return start, min(max(end, start), length)


def _inline(text: str) -> str:
    """Escaped text on one line (newlines become ``<br>``)."""
    return "<br>".join(escape(line) for line in text.splitlines() or [""])


def highlight(text: str, start: int, end: int, *, inline: bool = True,
              mark_id: str | None = None) -> str:
    """``text`` escaped, with ``text[start:end]`` wrapped in ``<mark>``."""
    start, end = clamp_span(len(text), start, end)
    esc = _inline if inline else escape
    attr = f' id="{escape(mark_id)}"' if mark_id else ""
    return (f"{esc(text[:start])}<mark{attr}>{esc(text[start:end])}</mark>"
            f"{esc(text[end:])}")


def excerpt_bounds(text: str, start: int, end: int, radius: int = 220) -> tuple[int, int]:
    """A window of about ``radius`` characters around ``[start, end)``, cut at spaces."""
    start, end = clamp_span(len(text), start, end)
    a, b = max(0, start - radius), min(len(text), end + radius)
    if a > 0:
        space = text.find(" ", a, start)
        a = space + 1 if space >= 0 else a
    if b < len(text):
        space = text.rfind(" ", end, b)
        b = space if space >= 0 else b
    return a, b


def highlight_excerpt(text: str, start: int, end: int, radius: int = 220) -> str:
    """:func:`highlight` on a window around the span, with ``…`` where text was cut."""
    a, b = excerpt_bounds(text, start, end, radius)
    head = "… " if a > 0 else ""
    tail = " …" if b < len(text) else ""
    return head + highlight(text[a:b], start - a, end - a) + tail


def viewer_url(doc_id: str, start: int, end: int, base: str = "/viewer") -> str:
    """Link to the document viewer with ``[start, end)`` highlighted and scrolled to."""
    return f"{base}/{quote(doc_id, safe='')}?start={int(start)}&end={int(end)}#hl"


def date_label(date: str | None) -> str:
    """A date for people (``24/09/2021``), or ``không rõ ngày``."""
    if not date:
        return "không rõ ngày"
    y, _, rest = date.partition("-")
    m, _, d = rest.partition("-")
    return f"{d}/{m}/{y}" if d else date


def document_label(doc: Document, width: int = 70) -> str:
    """One-line label for a document picker: title (date)."""
    title = " ".join(doc.title.split()) or doc.doc_id
    if len(title) > width:
        title = title[: width - 1].rstrip() + "…"
    return f"{title} ({date_label(doc.date)})"


def dates_label(date: str | None, published: str | None = None) -> str:
    """The report's date, and the page's own date when it differs:
    ``05/11/2020 (trang đăng 24/09/2021)``."""
    if published and published != date:
        return f"{date_label(date)} (trang đăng {date_label(published)})"
    return date_label(date)


def _source_meta(n: int, title: str, date: str | None, paragraph: int, url: str,
                 published: str | None = None) -> str:
    return (f'<div class="hd-src-head"><span class="hd-num">[{n}]</span> '
            f'<b class="hd-title">{_inline(title)}</b> · '
            f'{escape(dates_label(date, published))} · '
            f'đoạn {int(paragraph)} · <a class="hd-view" href="{escape(url)}" '
            f'target="_blank" rel="noopener">Xem toàn văn</a></div>')


def answer_source(n: int, answer: Answer, base: str = "/viewer") -> str:
    """One numbered source: metadata, link and the passage with the answer marked."""
    c = answer.citation
    a, b = c.start - answer.passage_start, c.end - answer.passage_start
    meta = _source_meta(n, c.title, c.date, c.paragraph,
                        viewer_url(c.doc_id, c.start, c.end, base), c.published)
    return (f'<li class="hd-source">{meta}<blockquote class="hd-passage">'
            f"{highlight_excerpt(answer.passage_text, a, b)}</blockquote></li>")


def passage_item(n: int, passage: Passage, base: str = "/viewer", limit: int = 600) -> str:
    """One numbered nearby passage (no answer inside it), shortened to ``limit`` chars."""
    text = passage.text if len(passage.text) <= limit else passage.text[:limit].rstrip() + "…"
    url = viewer_url(passage.doc_id, passage.start, passage.end, base)
    meta = _source_meta(n, passage.title, passage.date, passage.paragraph, url)
    return (f'<li class="hd-source">{meta}<blockquote class="hd-passage">{_inline(text)}'
            "</blockquote></li>")


def understood_html(result: QAResult) -> str:
    """"Hiểu câu hỏi là: …" when the question was read with the conversation, else ""."""
    if not result.understood:
        return ""
    return (f'<p class="hd-understood">Hiểu câu hỏi là: <i>{_inline(result.understood)}</i>'
            "</p>")


def _is_fragment(text: str, shown: Sequence[str]) -> bool:
    """A piece of an answer already shown, or one word without a figure ("Huyện", "Bí")."""
    low = " ".join(text.lower().split())
    if any(low in " ".join(s.lower().split()) for s in shown):
        return True
    return len(low.split()) == 1 and not any(c.isdigit() for c in low)


def shown_answers(answers: Sequence[Answer], min_ratio: float = 0.5) -> list[Answer]:
    """The best answer and the real alternatives to it: not a fragment (:func:`_is_fragment`)
    and scoring at least ``min_ratio`` of the best."""
    if not answers:
        return []
    kept = [answers[0]]
    for a in answers[1:]:
        if a.score >= min_ratio * answers[0].score and \
                not _is_fragment(a.text, [k.text for k in kept]):
            kept.append(a)
    return kept


def source_numbers(answers: Sequence[Answer]) -> list[int]:
    """For each answer, the 1-based number of the source it is shown under: answers whose
    passages overlap in the same document (overlapping chunks) share one source."""
    spans: list[tuple[str, int, int]] = []
    numbers = []
    for a in answers:
        key = (a.citation.doc_id, a.passage_start, a.passage_end)
        same = next((i for i, (d, s, e) in enumerate(spans)
                     if d == key[0] and s < key[2] and key[1] < e), None)
        if same is None:
            spans.append(key)
            same = len(spans) - 1
        numbers.append(same + 1)
    return numbers


def answer_html(result: QAResult, base: str = "/viewer") -> str:
    """The chat reply for a result: short answer first, then real alternatives, then the
    numbered sources (one per distinct passage)."""
    if result.vague:
        return vague_html(result)
    if result.no_answer or not result.answers:
        return no_answer_html(result, base)
    answers = shown_answers(result.answers)
    numbers = source_numbers(answers)
    best = answers[0]
    parts = [f'<div class="hd-reply">{understood_html(result)}<p class="hd-short"><b>Trả lời:</b> '
             f'<span class="hd-answer">{_inline(best.text)}</span> <sup>[1]</sup> '
             f'<span class="hd-score hd-conf-{escape(best.confidence_level or "none")}">'
             f'{escape(confidence_text(best.confidence, best.confidence_level))}</span></p>']
    others = [f"{_inline(a.text)} <sup>[{n}]</sup>"
              for a, n in zip(answers[1:], numbers[1:], strict=True)]
    if others:
        parts.append(f'<p class="hd-others">Khả năng khác: {"; ".join(others)}</p>')
    firsts = [a for i, a in enumerate(answers) if numbers[i] not in numbers[:i]]
    items = "".join(answer_source(i, a, base) for i, a in enumerate(firsts, 1))
    parts.append(f'<p class="hd-label">Nguồn:</p><ol class="hd-sources">{items}</ol>')
    return "".join(parts) + undated_note(result.undated_excluded) + "</div>"


def vague_html(result: QAResult) -> str:
    """The chat reply to a question too vague to answer: a request to be more specific."""
    return (f'<div class="hd-reply hd-vague"><p class="hd-short">'
            f"{_inline(result.clarification or '')}</p></div>")


def no_answer_html(result: QAResult, base: str = "/viewer", shown: int = 3) -> str:
    """The chat reply when nothing answers: a plain refusal and the closest passages."""
    head = (f'<div class="hd-reply hd-none">{understood_html(result)}<p class="hd-short">'
            f"<b>{NO_ANSWER}.</b></p>" + undated_note(result.undated_excluded))
    if not result.passages:
        return head + "<p>Không có đoạn văn nào gần với câu hỏi.</p></div>"
    items = "".join(passage_item(i, p, base) for i, p in enumerate(result.passages[:shown], 1))
    return (head + '<p class="hd-label">Các đoạn gần nhất:</p>'
            f'<ol class="hd-sources">{items}</ol></div>')


def error_html(message: str) -> str:
    """A chat reply for a request the engine rejected."""
    return (f'<div class="hd-reply hd-error"><p><b>Không xử lý được câu hỏi.</b></p>'
            f"<p>{_inline(message)}</p></div>")


def question_html(question: str) -> str:
    """The user's own message, escaped."""
    return f'<div class="hd-question">{_inline(question)}</div>'


_VIEWER_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:46rem;
margin:2rem auto;padding:0 1rem;line-height:1.6;color:#1f2328;background:#fff}
header{border-bottom:1px solid #d0d7de;margin-bottom:1rem}
h1{font-size:1.35rem;margin:.2rem 0}.meta{color:#57606a;font-size:.9rem}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
mark{background:#ffe066;padding:0 .1em;border-radius:2px;scroll-margin:30vh}
a{color:#0969da}
"""


_ORIGINS = {"lead": "ghi ở phần mở đầu", "lead+byline": "ngày ở phần mở đầu, năm theo ngày đăng",
            "lead+text": "ngày ở phần mở đầu, năm theo nội dung", "title": "ghi ở tiêu đề",
            "byline": "ngày đăng trang", "user": "do người dùng sửa"}


def _date_origin(doc: Document) -> str:
    """Where the date came from, for the viewer: `` (ghi ở phần mở đầu)``."""
    origin = _ORIGINS.get(doc.date_source or "")
    return f" ({origin})" if origin and doc.date else ""


def undated_note(count: int) -> str:
    """The line that says a date filter left undated documents out ("" for none)."""
    if count <= 0:
        return ""
    return (f'<p class="hd-undated">Bộ lọc ngày đã bỏ qua {count} tài liệu không rõ ngày. '
            "Bấm <b>Tìm cả tài liệu không rõ ngày</b> để hỏi lại gồm cả các tài liệu đó.</p>")


def viewer_page(doc: Document, start: int | None = None, end: int | None = None) -> str:
    """A whole cleaned document as a standalone, escaped HTML page.

    With a span, it is wrapped in ``<mark id="hl">`` and scrolled into view.
    """
    if start is None or end is None:
        body = escape(doc.text)
    else:
        body = highlight(doc.text, start, end, inline=False, mark_id="hl")
    return (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(doc.title or doc.doc_id)}</title><style>{_VIEWER_CSS}</style></head>"
        f'<body><header><p class="meta"><a href="/">← Quay lại hỏi đáp</a></p>'
        f"<h1>{escape(doc.title or doc.doc_id)}</h1>"
        f'<p class="meta">Ngày: {escape(dates_label(doc.date, doc.published))}'
        f"{escape(_date_origin(doc))} · Mã tài liệu: "
        f"{escape(doc.doc_id)}</p></header>"
        f'<main class="text">{body}</main>'
        f"<script>{VIEWER_SCRIPT}</script></body></html>")
