"""Raw text -> clean text -> :class:`Document`.

Convention of cleaned text (chunking relies on it): every paragraph is ONE line
and paragraphs are separated by exactly one blank line, so paragraph ``n``
(1-based) is ``text.split("\\n\\n")[n - 1]``; there are no other newlines, no
leading/trailing spaces and no runs of spaces. Text is :func:`normalize`-d
first, so every offset points into normalized text.

Web furniture is removed by *kind*, not by exact string: media-player clocks,
"skip to content" links, reading toolbars (print/PDF/night mode/font size),
site boxes (search, hot news, linked websites, visit counters, copyright),
image alt texts that repeat the title ("<title> ảnh 1"), captions repeated
twice, everything from a "related articles" heading ("Cùng chuyên mục",
"Đọc thêm", "Tin liên quan", …) to the end, and a site banner above an
article toolbar. Bylines and photo captions stay.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from hoidap.errors import LoadError
from index.dates import date_document, find_date, is_date_line  # noqa: F401 (find_date re-exported)
from index.loaders import read_text
from index.text import collapse_spaces, fold, normalize
from index.types import Document

_INVISIBLE_RE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_CONTROL_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")
_NUM = r"[\d.,]+"

_FURNITURE_RE = re.compile(
    "|".join(
        (
            r"\d{1,2}:\d{2}(?::\d{2})?(?:\s*/\s*\d{1,2}:\d{2}(?::\d{2})?)?",  # media player clock
            r"(?:skip|jump) to (?:the )?(?:main )?(?:content|navigation)",
            r"(?:bỏ qua|chuyển đến|đi tới) (?:phần )?nội dung(?: chính)?",
            r"tìm kiếm(?:\s+(?:theo|nâng cao)\b.{0,80})?|search",
            r"tin (?:nóng|mới|mới nhất|tiêu điểm|nổi bật|xem nhiều|đọc nhiều|ảnh|video)",
            r"(?:lịch công tác|website liên kết|liên kết website|liên kết|thống kê truy cập"
            r"|văn bản mới|thăm dò ý kiến|quảng cáo|chuyên mục)\b.{0,20}",
            r"(?:hôm nay|hôm qua|tuần này|tháng này|đã truy cập|đang truy cập|đang online"
            r"|trực tuyến|online|tổng(?: số)? lượt truy cập|lượt truy cập|lượt xem|lượt đọc"
            rf"|truy cập)\s*:?\s*{_NUM}",
            r"(?:bản quyền|copyright|©).{0,150}",
        )
    ),
    re.IGNORECASE,
)
_TOOL_PHRASES_RE = re.compile(
    r"chế độ (?:ban đêm|ban ngày|đọc)|in trang|in bài|bản in|xuất pdf|tải pdf|tải về"
    r"|đọc nội dung|nghe đọc|nghe bài(?: viết)?|đọc bài|cỡ chữ|chia sẻ|gửi email|gửi bài"
    r"|lưu bài|bình luận|theo dõi|facebook|twitter|zalo|email|print|share|font size"
    r"|(?<!\w)[-+]?a[-+]?(?!\w)",
    re.IGNORECASE,
)
_TAIL_RE = re.compile(
    r"(?:tin )?cùng chuyên mục|đọc thêm|xem thêm|(?:tin|bài|bài viết|tin bài) liên quan"
    r"|(?:các )?tin (?:khác|đã đưa)|related(?: articles| news| posts)?|more stories|read more",
    re.IGNORECASE,
)
_IMAGE_ECHO_RE = re.compile(r"(.+?)\s+ảnh\s+\d{1,2}")
_TERMINAL = tuple(".!?…:;")
_MIN_BODY_BEFORE_TAIL = 300
_TOOLBAR_MAX = 150
_HEADER_LINES = 8
_TITLE_MAX = 250



def is_toolbar(line: str) -> bool:
    """A line made only of reading tools: "In trang Xuất PDF", "-A A +A", "Chia sẻ | Zalo"."""
    if len(line) > _TOOLBAR_MAX:
        return False
    rest, count = _TOOL_PHRASES_RE.subn("", line)
    return count > 0 and not re.search(r"\w", rest)


def is_furniture(line: str) -> bool:
    """Whole-line site furniture (player clock, search box, counters, toolbar, …)."""
    line = line.strip()
    return bool(line) and (bool(_FURNITURE_RE.fullmatch(line)) or is_toolbar(line))


def _is_tail_marker(line: str) -> bool:
    return bool(_TAIL_RE.fullmatch(line.strip().rstrip(":").strip()))


def _prepare_lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n\n")
    text = _CONTROL_RE.sub("", _INVISIBLE_RE.sub("", text))
    return [collapse_spaces(line) for line in text.split("\n")]


def _drop_header(lines: list[str]) -> list[str]:
    """Drop a banner above an article toolbar when the title follows the toolbar."""
    filled = [i for i, line in enumerate(lines) if line][:_HEADER_LINES]
    bars = [i for i in filled if is_toolbar(lines[i])]
    if not bars:
        return lines
    after = next((line for line in lines[bars[-1] + 1 :] if line and not is_furniture(line)), "")
    above = [lines[i] for i in filled if i < bars[-1]]
    title_next = 0 < len(after) <= _TITLE_MAX and not after.endswith(".")
    if title_next and all(len(line) <= _TITLE_MAX for line in above):
        return lines[bars[-1] :]
    return lines


def _cut_tail(lines: list[str]) -> list[str]:
    """Cut from the first "related articles" heading that follows real content."""
    body = 0
    for i, line in enumerate(lines):
        if _is_tail_marker(line) and body >= _MIN_BODY_BEFORE_TAIL:
            return lines[:i]
        if not is_furniture(line):
            body += len(line)
    return lines


def _drop_echoes(lines: list[str]) -> list[str]:
    """Drop "<another line> ảnh N" alt texts, tail markers and near-repeated lines."""
    others = set(lines)
    kept: list[str] = []
    recent: list[str] = []
    for line in lines:
        echo = _IMAGE_ECHO_RE.fullmatch(line)
        if line and (line in recent or _is_tail_marker(line) or (echo and echo[1] in others)):
            continue
        kept.append(line)
        if line:
            recent = (recent + [line])[-2:]
    return kept


def _joins(prev: str, nxt: str) -> bool:
    """True when ``nxt`` continues ``prev`` (a soft line wrap)."""
    if prev.endswith(","):
        return True
    return not prev.endswith(_TERMINAL) and nxt[:1].islower()


def _paragraphs(lines: list[str]) -> list[str]:
    paras: list[str] = []
    glued = False  # may the next line join the last paragraph?
    for line in lines:
        if not line:
            glued = False
            continue
        if glued and paras and _joins(paras[-1], line):
            paras[-1] += " " + line
        else:
            paras.append(line)
        glued = True
    return paras


def clean_text(raw: str) -> str:
    """Normalized text without web furniture, one paragraph a line, ``"\\n\\n"`` between."""
    lines = _drop_header(_prepare_lines(normalize(raw)))
    lines = [line for line in _cut_tail(lines) if not is_furniture(line)]
    return "\n\n".join(_paragraphs(_drop_echoes(lines)))


def extract_date(text: str) -> str | None:
    """The report's date (see :func:`index.dates.date_document`)."""
    return date_document(text, extract_title(text)).date


def is_masthead(line: str) -> bool:
    """A site name or menu, not a title: "NGƯỜI LAO ĐỘNG ONLINE", "Trang chủ | Xã hội | …",
    "Tin Nhanh 24h" (fewer than four words)."""
    words = line.split()
    return (line.count("|") >= 2 or len(words) < 4
            or (line.isupper() and len(words) <= 6))


def extract_title(text: str) -> str:
    """First meaningful line: not a date line, masthead or furniture, 10..250 characters."""
    paras = [p.strip() for p in text.split("\n\n") if p.strip()]
    for para in paras[:10]:
        if (10 <= len(para) <= _TITLE_MAX and not is_date_line(para) and not is_furniture(para)
                and not is_masthead(para)):
            return para
    if not paras:
        return ""
    head = paras[0][:120]
    return head.rsplit(" ", 1)[0] + "…" if len(paras[0]) > 120 else head


def safe_doc_id(name: str) -> str:
    """A safe id from a file name: ASCII letters, digits, ``_``, ``-``, ``.``; never ``..``."""
    ascii_name = fold(normalize(name)).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_name)
    safe = re.sub(r"\.{2,}", ".", safe).strip("._-")[:100]
    if not safe:
        safe = "doc_" + hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:12]
    return safe


def make_document(doc_id: str, source: str, raw: str) -> Document:
    """Clean ``raw`` and wrap it with title, date and ``sha256`` of the cleaned text."""
    text = clean_text(raw)
    if not text:
        raise LoadError(f"{source} has no text after removing page furniture")
    title = extract_title(text)
    dating = date_document(text, title)
    return Document(
        doc_id=doc_id,
        title=title,
        date=dating.date,
        source=source,
        text=text,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        date_source=dating.date_source,
        published=dating.published,
        published_source=dating.published_source,
    )


def load_document(path: Path) -> Document:
    """Read, clean and wrap one file; ``doc_id`` is its sanitised file stem."""
    path = Path(path)
    return make_document(safe_doc_id(path.stem), str(path), read_text(path))
