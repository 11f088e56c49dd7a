"""The Gradio chat page: ask, read cited answers, filter, upload documents.

Handlers are small functions over the engine so they can be tested without a browser;
:func:`build_chat` only wires them to components.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from html import escape
from pathlib import Path

import gradio as gr

from hoidap.errors import HoidapError, InputError
from index.dates import valid_date
from qa.conversation import MAX_TURNS, Turn, turn_from
from qa.engine import QAEngine
from qa.types import Filters, make_filters
from ui.i18n import head_html
from ui.jobs import IndexJob, IndexJobs
from ui.messages import vietnamese
from ui.progress import PROGRESS_CSS, progress_html
from ui.render import answer_html, document_label, error_html, question_html
from ui.session import STORAGE_KEY, restored, saved
from ui.uploads import Incoming, accepted_types, intake, upload_name

__all__ = ["add_documents", "build_chat", "chat_concurrency", "converse", "follow_upload",
           "page_head", "respond", "start_upload", "upload_name"]

Message = dict[str, str]

EXAMPLES = [
    "Tổng thu ngân sách Nhà nước trên địa bàn huyện Cao Lộc năm 2020 ước đạt bao nhiêu?",
    "Ai là trưởng đoàn công tác của Thường trực Tỉnh ủy làm việc với Huyện ủy Cao Lộc?",
    "Huyện Chi Lăng có bao nhiêu nhiệm vụ trọng tâm năm 2023 đạt mức hoàn thành xuất sắc?",
    "Những xã nào của huyện Cao Lộc dự kiến đạt chuẩn nông thôn mới vào cuối năm 2020?",
]

# After a reply: show the new question and the start of its answer, not the reply's end.
SCROLL_TO_REPLY = """() => { setTimeout(() => {
  const q = document.querySelectorAll('#chat .hd-question');
  if (q.length) q[q.length - 1].scrollIntoView({block: 'start', behavior: 'smooth'});
}, 100); }"""

DATE_PICKERS = {"date_from": "Chọn “Từ ngày” trên lịch", "date_to": "Chọn “Đến ngày” trên lịch"}
UPLOAD_POLL_S = 0.5  # how often the upload panel's progress bar is refreshed
QUEUE_PER_WORKER = 32  # chat events waiting per concurrent question before "queue full"

CSS = """
.hd-reply p{margin:.25rem 0}
.hd-short{font-size:1.05rem}
.hd-question{scroll-margin-top:24px}
.hd-answer{background:#fff3bf;padding:0 .2em;border-radius:3px;font-weight:600}
.hd-score{color:#6e7781;font-size:.85em}
.hd-label{font-weight:600;margin-top:.5rem}
.hd-sources{padding-left:0;list-style:none;margin:.25rem 0}
.hd-source{margin:.4rem 0}
.hd-src-head{font-size:.9rem}
.hd-passage{margin:.25rem 0 .25rem .5rem;padding:.3rem .6rem;border-left:3px solid #d0d7de;
font-size:.92rem}
.hd-passage mark{background:#ffe066;padding:0 .1em;border-radius:2px}
.hd-error{color:#9a2f2f}
.hd-understood{color:#57606a;font-size:.9rem}
.hd-answer,.hd-passage mark{color:#1f2328}
.dark .hd-answer{background:#ffe58f}
.dark .hd-passage mark{background:#ffd43b}
.dark .hd-score{color:#a8b1bb}
.dark .hd-understood{color:#b1bac4}
.dark .hd-error{color:#ff9b9b}
.dark .hd-passage{border-left-color:#57606a}
#chat .icon-button-wrapper.top-panel{display:none}
#examples{gap:.4rem}
#examples .hd-examples-label{font-weight:600;font-size:.9rem}
#examples button.hd-example{white-space:normal;text-align:left;justify-content:flex-start;
height:auto;overflow:visible;text-overflow:clip;line-height:1.35;font-weight:400}
#date_from,#date_to{position:relative}
.hd-datepick{position:absolute;right:10px;bottom:10px;z-index:5}
#date_from textarea,#date_to textarea{padding-right:2.4rem}
.hd-cal{display:flex;padding:.2rem;background:none;border:0;cursor:pointer;
color:var(--body-text-color)}
.hd-date-native{position:absolute;right:0;bottom:0;width:1px;height:1px;opacity:0;border:0;
padding:0;pointer-events:none}
@media (max-width:640px){
#chat{height:55vh !important;max-height:55vh}
#ask_row{flex-wrap:nowrap;gap:.5rem}
#ask_row>*{min-width:0 !important}
#question{flex:1 1 auto !important}
#ask{flex:0 0 auto !important;min-width:4.5rem !important;width:auto !important}
}
"""
CSS += PROGRESS_CSS

INTRO = (
    "## Hỏi đáp tài liệu\n"
    "Đặt câu hỏi bằng tiếng Việt về các báo cáo đã nạp. Câu trả lời được **trích nguyên văn** "
    "từ tài liệu, kèm nguồn (tên bài, ngày, đoạn) và đoạn văn có phần trả lời được tô sáng. "
    "Nếu tài liệu không chứa câu trả lời, hệ thống sẽ nói rõ. "
    "[API & tài liệu kỹ thuật](/docs)"
)


def page_head() -> str:
    """The page's ``<head>`` addition: Gradio's strings in Vietnamese and the date pickers."""
    return head_html(DATE_PICKERS)


def theme() -> gr.themes.Base:
    """The default theme with local system fonts (no web-font download)."""
    return gr.themes.Default(font=["system-ui", "Segoe UI", "Roboto", "sans-serif"],
                             font_mono=["ui-monospace", "monospace"])


# -- handlers (no Gradio objects needed to test them) ---------------------------------------
def form_date(text: str | None) -> str | None:
    """A date typed as the page shows dates (``24/09/2021``, ``5-11-2020``) in ISO; ISO
    stays; anything else is passed on as typed, for the engine to reject with a message."""
    text = (text or "").strip()
    m = re.fullmatch(r"(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})", text)
    if m:
        return valid_date(m[3], m[2], m[1]) or text
    return text or None


def form_filters(doc_ids: Sequence[str] | None, date_from: str | None, date_to: str | None,
                 include_undated: bool = False) -> Filters | None:
    """Filters from the form (no document chosen = all; dates dd/mm/yyyy or ISO); None when
    nothing is chosen."""
    return make_filters(doc_ids or None, form_date(date_from), form_date(date_to),
                        include_undated)


def respond(engine: QAEngine, question: str, history: list[Message] | None,
            doc_ids: Sequence[str] | None = None, date_from: str | None = None,
            date_to: str | None = None, include_undated: bool = False) -> list[Message]:
    """The chat history with the question and its reply appended (no conversation memory)."""
    return converse(engine, question, history, None, doc_ids, date_from, date_to,
                    include_undated)[0]


def converse(engine: QAEngine, question: str, history: list[Message] | None,
             turns: Sequence[Turn] | None, doc_ids: Sequence[str] | None = None,
             date_from: str | None = None, date_to: str | None = None,
             include_undated: bool = False) -> tuple[list[Message], list[Turn]]:
    """:func:`respond` that also keeps the conversation's raw turns (question, answer text,
    cited document): a follow-up is read with them and its reply says how it was understood.
    With ``turns=None`` the question is answered on its own."""
    history = list(history or [])
    kept = list(turns or [])
    if not (question or "").strip():
        return history, kept
    try:
        filters = form_filters(doc_ids, date_from, date_to, include_undated)
        result = engine.ask(question, k=5, filters=filters,
                            history=kept[-MAX_TURNS:] if turns is not None else None)
        reply = answer_html(result)
        kept.append(turn_from(result))
    except HoidapError as exc:
        reply = error_html(vietnamese(str(exc)))
    messages = history + [{"role": "user", "content": question_html(question)},
                          {"role": "assistant", "content": reply}]
    return messages, kept[-MAX_TURNS:]


def document_choices(engine: QAEngine) -> list[tuple[str, str]]:
    """(label, doc_id) pairs for the document filter."""
    try:
        return [(document_label(d), d.doc_id) for d in engine.documents()]
    except HoidapError:
        return []


def start_upload(engine: QAEngine, jobs: IndexJobs, files: Sequence[str], folder: Path,
                 progress: Callable[[str, int, int], None] | None = None,
                 ) -> tuple[IndexJob | None, list[str]]:
    """Save uploaded temp files (``ui.uploads.intake``, the REST API's intake) and queue
    their indexing; returns the job (None when no file was kept) and, as escaped
    Vietnamese HTML, why each other file was refused."""
    incoming = [Incoming.from_path(f) for f in files]
    try:
        saved, rejected = intake(engine, incoming, folder.resolve(), strict=False)
    except InputError as exc:  # the whole upload is refused (too many files)
        return None, [escape(vietnamese(str(exc)))]
    reasons = [escape(vietnamese(str(exc))) for _, exc in rejected]
    return (jobs.submit(saved, progress) if saved else None), reasons


def upload_message(engine: QAEngine, job: IndexJob | None, rejected: Sequence[str]) -> str:
    """The Vietnamese outcome of an upload (Markdown paragraphs) once its job has finished."""
    if job is None:
        return "Không thêm được tệp nào: " + "; ".join(rejected)
    try:
        report, _ = job.result()
    except HoidapError as exc:
        return f"Không thêm được tài liệu: {escape(vietnamese(str(exc)))}"
    rejected = list(rejected) + [escape(vietnamese(reason) if Path(p).name in reason
                                        else f"{Path(p).name}: {vietnamese(reason)}")
                                 for p, reason in report.failed]
    changed = report.added + report.updated
    titles = "; ".join(f"“{escape(engine.document(d).title)}”" for d in changed)
    lines = [f"Đã nạp {len(report.added)} tài liệu mới và cập nhật {len(report.updated)} "
             f"tài liệu trong {report.seconds:.1f} giây{': ' + titles if titles else ''}. "
             f"Chỉ mục hiện có {report.documents} tài liệu; bạn có thể hỏi ngay."]
    if rejected:
        lines.append("Bỏ qua: " + "; ".join(rejected))
    return "\n\n".join(lines)


def add_documents(engine: QAEngine, files: Sequence[str] | None, folder: Path,
                  progress: Callable[[str, int, int], None] | None = None) -> str:
    """Index uploaded files in a queue of their own and wait for it; a Vietnamese status line
    (Markdown). The page itself follows its uploads with :func:`follow_upload`."""
    if not files:
        return "Chưa chọn tệp nào."
    job, rejected = start_upload(engine, IndexJobs(engine), files, folder, progress)
    return upload_message(engine, job, rejected)


def follow_upload(engine: QAEngine, jobs: IndexJobs, files: Sequence[str] | None,
                  folder: Path, every: float = UPLOAD_POLL_S) -> Iterator[str]:
    """The upload panel's HTML: a progress bar (files, chunks embedded, time left) every
    ``every`` seconds while the upload is indexed in the background, then its outcome."""
    if not files:
        yield _paragraphs("Chưa chọn tệp nào.")
        return
    job, rejected = start_upload(engine, jobs, files, folder)
    while job is not None and not job.finished:
        yield progress_html(job.state, jobs.clock(), jobs.ahead(job))
        job.wait(every)
    yield _paragraphs(upload_message(engine, job, rejected))


def _paragraphs(text: str) -> str:
    """Status text (already escaped) as HTML paragraphs."""
    return "".join(f"<p>{part}</p>" for part in text.split("\n\n"))


def chat_concurrency(configured: int, cpus: int | None) -> int:
    """Questions the chat answers at once: ``configured`` (``HOIDAP_CHAT_CONCURRENCY``), else
    two per CPU (on 2 cores, 20 users: throughput is the same from 1 to 8, 4 had the lowest
    p50/p95 and more slots shorten the worst wait behind a slow question; docs/benchmarks.md)."""
    return configured if configured > 0 else 2 * max(1, cpus or 1)


# -- layout -----------------------------------------------------------------------------------
def _cleared() -> tuple:
    """A fresh conversation: no messages, no question, no turns, nothing stored."""
    return [], "", [], gr.Button(visible=False), saved([], [])


def build_chat(engine: QAEngine, uploads: Path, jobs: IndexJobs) -> gr.Blocks:
    """The chat page as Gradio Blocks (mount it with ``gr.mount_gradio_app``); uploads are
    indexed by ``jobs`` (the REST API's queue) in the background."""
    workers = chat_concurrency(engine.config.limits.chat_concurrency, os.cpu_count())
    with gr.Blocks(title="Hỏi đáp tài liệu", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Hội thoại", show_label=False, height=620, elem_id="chat",
                                  autoscroll=False,
                                  latex_delimiters=[], buttons=["copy"],
                                  feedback_options=None, group_consecutive_messages=False,
                                  placeholder="Hãy đặt câu hỏi hoặc chọn một câu hỏi mẫu "
                                              "bên dưới.")
                with gr.Row(elem_id="ask_row"):
                    box = gr.Textbox(label="Câu hỏi",
                                     placeholder="Nhập câu hỏi rồi bấm Hỏi…",
                                     show_label=False, scale=5, elem_id="question",
                                     max_lines=4)
                    send = gr.Button("Hỏi", variant="primary", scale=1, elem_id="ask")
                with gr.Row():
                    retry = gr.Button("Tìm cả tài liệu không rõ ngày", size="sm",
                                      visible=False, elem_id="retry_undated")
                    clear = gr.Button("Xoá hội thoại", size="sm", elem_id="clear")
                with gr.Column(elem_id="examples"):  # whole questions; a click asks
                    gr.Markdown("Câu hỏi mẫu", elem_classes="hd-examples-label")
                    samples = [(q, gr.Button(q, size="sm", elem_classes="hd-example"))
                               for q in EXAMPLES]
            with gr.Column(scale=2):
                with gr.Accordion("Lọc tài liệu", open=False, elem_id="filters"):
                    docs = gr.Dropdown(choices=document_choices(engine), multiselect=True,
                                       label="Chỉ tìm trong các tài liệu",
                                       info="Để trống để tìm trong tất cả.",
                                       elem_id="docs")
                    with gr.Row():
                        date_from = gr.Textbox(label="Từ ngày", placeholder="dd/mm/yyyy",
                                               elem_id="date_from")
                        date_to = gr.Textbox(label="Đến ngày", placeholder="dd/mm/yyyy",
                                             elem_id="date_to")
                    undated = gr.Checkbox(label="Tìm cả tài liệu không rõ ngày",
                                          info="Khi lọc theo ngày, tài liệu không rõ ngày "
                                               "bị bỏ qua trừ khi chọn ô này.",
                                          elem_id="include_undated")
                with gr.Accordion("Thêm tài liệu", open=True):
                    limits = engine.config.limits
                    types = accepted_types(limits)
                    gr.Markdown(f"Tệp {', '.join(types)} (tối đa "
                                f"{limits.max_upload_mb:g} MB mỗi tệp). "
                                "Tài liệu được lập chỉ mục ở chế độ nền (vẫn hỏi được trong "
                                "lúc đó) và hỏi được khi xong.")
                    files = gr.UploadButton("Tải tài liệu lên…", file_count="multiple",
                                            file_types=types,
                                            elem_id="upload")
                    status = gr.HTML(elem_id="upload_status")

        turns = gr.State([])  # the raw turns (question, answer text, cited document)
        last = gr.State("")
        store = gr.BrowserState(saved([], []), storage_key=STORAGE_KEY)  # survives a reload

        def ask(question, history, kept, ids, d_from, d_to, with_undated):
            messages, kept = converse(engine, question, history, kept or [], ids, d_from,
                                      d_to, with_undated)
            left_out = bool(messages) and "hd-undated" in messages[-1]["content"]
            return (messages, "", kept, question, gr.Button(visible=left_out),
                    saved(messages, kept))

        def ask_again(question, history, kept, ids, d_from, d_to):
            messages, kept = converse(engine, question, history, kept or [], ids, d_from,
                                      d_to, True)
            return messages, kept, True, gr.Button(visible=False), saved(messages, kept)

        def upload(paths):
            html = ""
            for html in follow_upload(engine, jobs, paths, uploads):
                yield html, gr.skip()
            yield html, gr.Dropdown(choices=document_choices(engine))

        inputs = [box, chat, turns, docs, date_from, date_to, undated]
        outputs = [chat, box, turns, last, retry, store]
        asking = {"concurrency_id": "ask", "concurrency_limit": workers}  # one pool
        box.submit(ask, inputs, outputs, **asking).then(None, js=SCROLL_TO_REPLY)
        send.click(ask, inputs, outputs, **asking).then(None, js=SCROLL_TO_REPLY)
        for question, button in samples:
            button.click(partial(ask, question), inputs[1:], outputs, api_visibility="private",
                         **asking).then(None, js=SCROLL_TO_REPLY)
        retry.click(ask_again, [last, chat, turns, docs, date_from, date_to],
                    [chat, turns, undated, retry, store], **asking).then(None, js=SCROLL_TO_REPLY)
        cleared = [chat, box, turns, retry, store]
        clear.click(_cleared, None, cleared)
        chat.clear(_cleared, None, cleared,  # Gradio's own clear icon (hidden by the CSS)
                   api_visibility="private")
        # Progress shows in the upload panel's own bar, never as a spinner over the filters;
        # the handler mostly waits on the job, so uploads take no question's place.
        files.upload(upload, [files], [status, docs], show_progress="hidden",
                     concurrency_limit=None)
        demo.load(lambda: gr.Dropdown(choices=document_choices(engine)), None, [docs])
        demo.load(restored, [store], [chat, turns])
    demo.queue(default_concurrency_limit=workers, max_size=QUEUE_PER_WORKER * workers)
    return demo
