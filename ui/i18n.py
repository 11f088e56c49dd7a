"""Vietnamese for Gradio's own strings on the chat page, and the page script that applies it.

Gradio's frontend has no Vietnamese locale, and ``gr.I18n`` translations are only activated
for the locales it ships (a ``vi`` dictionary would never be selected), while several
strings are hard-coded in English ("Scroll down", "processing |", "user's message: …").
So the page script (``ui/static/page.js``) rewrites them in the DOM: whole texts and the
``aria-label``/``title``/``placeholder`` attributes found in :data:`EXACT`, and the starts
listed in :data:`PREFIXES`. It also adds the date pickers and marks the page ``lang="vi"``.
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["EXACT", "PREFIXES", "head_html"]

# Gradio's English (its frontend dictionary and hard-coded labels) -> what the page shows.
EXACT: dict[str, str] = {
    "Clear": "Xoá",
    "Copy message": "Sao chép câu trả lời",
    "Copied message": "Đã sao chép",
    "Copy": "Sao chép",
    "Copied!": "Đã sao chép",
    "Copy all messages": "Sao chép cả hội thoại",
    "Scroll down": "Cuộn xuống",
    "chatbot conversation": "Hội thoại",
    "Chatbot": "Hội thoại",
    "Textbox": "Câu hỏi",
    "Dropdown": "Danh sách chọn",
    "Checkbox": "Ô chọn",
    "Remove": "Bỏ",
    "Remove All": "Bỏ tất cả",
    "Select All": "Chọn tất cả",
    "Loading": "Đang tải",
    "Loading...": "Đang tải…",
    "Uploading...": "Đang tải lên…",
    "Loading response": "Đang chờ câu trả lời",
    "Loading content": "Đang tải nội dung",
    "Error": "Lỗi",
    "Close": "Đóng",
    "Download": "Tải xuống",
    "Upload": "Tải lên",
    "Click to Upload": "Bấm để tải lên",
    "Drop File Here": "Thả tệp vào đây",
    "Connection Lost": "Mất kết nối",
    "processing |": "đang xử lý |",
    "processing": "đang xử lý",
    "Lost connection due to leaving page. Rejoining queue...":
        "Mất kết nối do rời trang. Đang vào lại hàng đợi…",
    "Waiting for file(s) to finish uploading, please retry.":
        "Đang chờ tải tệp lên xong, vui lòng thử lại.",
    "There is a long queue of requests pending. Duplicate this Space to skip.":
        "Đang có nhiều yêu cầu chờ xử lý, vui lòng đợi.",
}

# Starts of English texts/attributes followed by a value (a message, a queue position).
# The rest is kept (message aria-labels: the message's text, without its HTML tags).
PREFIXES: tuple[tuple[str, str], ...] = (
    ("user's message: ", "Câu hỏi: "),
    ("bot's message: ", "Phản hồi: "),
    ("queue: ", "hàng đợi: "),
    ("In queue: ", "Trong hàng đợi: "),
    ("Remove ", "Bỏ "),
)

PAGE_JS = Path(__file__).resolve().parent / "static" / "page.js"


def head_html(pickers: dict[str, str] | None = None) -> str:
    """The ``<script>`` for the page's ``<head>``: the translations and ``page.js``.
    ``pickers`` maps the ``elem_id`` of a dd/mm/yyyy textbox to the label of the calendar
    button the script adds beside it (a native date picker that fills the box)."""
    data = json.dumps({"exact": EXACT, "prefixes": PREFIXES, "pickers": pickers or {}},
                      ensure_ascii=False)
    data = data.replace("</", "<\\/")  # never ends the script element early
    return (f"<script>window.HOIDAP_VI = {data};</script>\n"
            f"<script>{PAGE_JS.read_text(encoding='utf-8')}</script>")
