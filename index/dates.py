"""Dating a report the way a reader does: the day of the event it reports, and the page's date.

A report page usually shows several dates. The one that matters is the day of the event the
report is about, written in the lead ("Ngày 14/10, …", "LSO-Chiều nay (5/11), …", "Sáng
5/11/2020, …", "ngày 21 tháng 01 năm 2021"); its year, when the lead leaves it out, comes from
the page's byline ("15/10/2020 08:00", at the top or the foot) or else from the years the text
talks about. Date lines above the title, and weekday lines ("Thứ sáu, 24/09/2021"), are page
furniture (a site header showing today's date): they give the page's ``published`` date only
when there is no byline, and never decide the event's date.

Everything here is a pure function of the cleaned text (paragraphs separated by blank lines).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass

DATE_LINE_MAX = 80  # a date line is short: "Thứ sáu, 24/09/2021", "15/10/2020 08:00"
TOP_PARAGRAPHS = 8  # date lines are looked for among the first paragraphs
LEAD_PARAGRAPHS = 4  # body paragraphs whose opening may state the event's day
LEAD_CHARS = 250  # how far into a paragraph (its first sentence) the event's day may start

_DMY_RE = re.compile(r"(?<!\d)(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})(?!\d)")
_WORDY_RE = re.compile(r"ngày\s+(\d{1,2})\s+tháng\s+(\d{1,2})\s*,?\s+năm\s+(\d{4})", re.I)
_ISO_RE = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_TIME_RE = re.compile(r"(?<!\d)\d{1,2}\s*[:h]\s*\d{2}(?!\d)|\b(?:GMT|UTC)\b", re.I)
_WEEKDAY_RE = re.compile(r"\b(?:thứ\s+(?:hai|ba|tư|năm|sáu|bảy|[2-7])|chủ\s+nhật)\b", re.I)
_BYLINE_WORDS_RE = re.compile(r"cập nhật|đăng (?:lúc|ngày)|ngày đăng|xuất bản|published|"
                              r"updated|posted", re.I)

_CUE = (r"(?:ngày|sáng|trưa|chiều|tối|đêm|khuya|hôm|nay|qua|mai)(?:\s+(?:nay|qua|ngày|hôm"
        r"(?:\s+qua|\s+nay)?))*")
# "Ngày 14/10", "Chiều nay (5/11)", "sáng 5/11/2020", "tối 20-11", "ngày 21 tháng 01 năm 2021"
_LEAD_RE = re.compile(
    rf"\b({_CUE})\s*\(?\s*(?:ngày\s+)?(?:"
    r"(\d{1,2})\s*[/-]\s*(\d{1,2})(?:\s*[/-]\s*(\d{4}))?(?![\d/-])"
    r"|(\d{1,2})\s+tháng\s+(\d{1,2})(?:\s*,?\s*năm\s+(\d{4}))?(?!\d))",
    re.I)
# the word before the cue makes it a bound or a deadline, not the event: "đến ngày 10/11"
_NOT_EVENT_BEFORE = frozenset({"từ", "đến", "tới", "trước", "sau", "kể", "hết", "cho",
                               "đầu", "cuối", "giữa", "trong", "hạn", "đợt"})
# a dated document number before the day: "Nghị định số 12/2005/NĐ-CP ngày 5/2/2005"
_LEGAL_RE = re.compile(r"(?:\bsố\s*\d+|\d+/[\w/-]*[A-ZĐ][\w-]*)[^.;,]{0,30}$")
_YEAR_RE = re.compile(r"(?<![\d.,])((?:19|20)\d{2})(?!\d|[.,]\d)")
_RANGE_RE = re.compile(r"(?<!\d)(?:19|20)\d{2}\s*[-–—]\s*(?:19|20)\d{2}(?!\d)")
_NAMED_YEAR_RE = re.compile(r"\bnăm\s+((?:19|20)\d{2})(?!\d)", re.I)
_DOC_NUMBER_RE = re.compile(r"\d+/(?:19|20)\d{2}/[A-ZĐ]")
# birth years and targets ("SN 1986", "đến năm 2010") say nothing of when the report is
_BORN_RE = re.compile(r"\b(?:SN|sinh(?: năm)?|năm sinh|(?:đến|tới) năm)\s*(?:19|20)\d{2}", re.I)


@dataclass(frozen=True)
class Dating:
    """The dates of one document and where each came from.

    ``date``: the report's event date (ISO) or None; ``date_source``: "lead" (written in full
    in the lead), "lead+byline" / "lead+text" (day from the lead, or "hôm qua"/"hôm nay",
    year from the byline or the text's years), "title" (a full date in the title) or "byline"
    (no day in the lead: the page's own date). ``published``: the page's date, with
    ``published_source`` "byline", "footer" or "header".
    """

    date: str | None = None
    date_source: str | None = None
    published: str | None = None
    published_source: str | None = None


def valid_date(year: int | str, month: int | str, day: int | str) -> str | None:
    """``YYYY-MM-DD`` when the parts make a real date between 1900 and 2100, else None."""
    try:
        date = dt.date(int(year), int(month), int(day))
    except ValueError:
        return None
    return date.isoformat() if 1900 <= date.year <= 2100 else None


def find_date(line: str) -> str | None:
    """First valid full date written in ``line`` (dd/mm/yyyy, wordy, ISO) as ISO."""
    found: list[tuple[int, str]] = []
    for regex, order in ((_DMY_RE, (3, 2, 1)), (_WORDY_RE, (3, 2, 1)), (_ISO_RE, (1, 2, 3))):
        for m in regex.finditer(line):
            iso = valid_date(*(m[i] for i in order))
            if iso:
                found.append((m.start(), iso))
    return min(found)[1] if found else None


def is_date_line(line: str) -> bool:
    """A short line that is mostly a full date (a header, byline or time stamp), not a title
    that names a date ("Giá trái cây tại các chợ đầu mối ngày 4-4-2006")."""
    if len(line) > DATE_LINE_MAX or find_date(line) is None:
        return False
    rest = _ISO_RE.sub(" ", _WORDY_RE.sub(" ", _DMY_RE.sub(" ", line)))
    return len(re.findall(r"[^\W\d_]+", rest)) <= 6


@dataclass(frozen=True)
class _LeadDate:
    day: int
    month: int
    year: int | None


def first_sentence(paragraph: str, limit: int = LEAD_CHARS, sentences: int = 1) -> str:
    """The paragraph's first ``sentences`` sentences (at most ``limit`` characters)."""
    head = paragraph[:limit]
    ends = [m.end() for m in re.finditer(r"[.!?…](?:\s|$)", head)]
    return head[: ends[sentences - 1]] if len(ends) >= sentences else head


def lead_date(paragraph: str, sentences: int = 1) -> _LeadDate | None:
    """The event's day stated in the first sentence(s) of ``paragraph`` ("Ngày 14/10, …"); a
    day said to be today or yesterday ("hôm qua (5-1)") wins, then one that opens a clause
    ("…, ngày 26-9, Thủ tướng …"), then the first."""
    head = first_sentence(paragraph, sentences=sentences)
    found: list[tuple[int, _LeadDate]] = []
    for m in _LEAD_RE.finditer(head):
        before = head[: m.start()]
        words = before.split()
        if words and words[-1].lower().strip("(,") in _NOT_EVENT_BEFORE:
            continue
        if _LEGAL_RE.search(before):
            continue
        day, month, year = (m[2], m[3], m[4]) if m[2] else (m[5], m[6], m[7])
        if valid_date(year or 2000, month, day):
            rank = 0 if re.search(r"\b(?:nay|qua)\b", m[1], re.I) else (
                1 if re.match(r"\s*\)?\s*,", head[m.end():]) else 2)
            found.append((rank, _LeadDate(int(day), int(month), int(year) if year else None)))
    return min(found, key=lambda f: f[0])[1] if found else None


_RELATIVE_RE = re.compile(r"\b(?:hôm|sáng|trưa|chiều|tối|đêm)\s+(nay|qua)\b(?!\s*\(?\s*\d)",
                          re.I)


def relative_day(paragraph: str, anchor: str) -> str | None:
    """"Hôm nay"/"sáng nay" (the ``anchor`` day) or "hôm qua"/"chiều qua" (the day before)
    in the first sentence of ``paragraph``, as an ISO date."""
    m = _RELATIVE_RE.search(first_sentence(paragraph))
    if not m:
        return None
    day = dt.date.fromisoformat(anchor) - dt.timedelta(days=1 if m[1].lower() == "qua" else 0)
    return day.isoformat()


def text_years(text: str, title: str = "") -> Counter[int]:
    """How strongly the text is about each year: "năm 2020" counts 2, a bare or dated year
    1, a year in the title 3; period ranges ("2020 – 2025") and document numbers
    ("08/2019/NQ-HĐND") do not count."""
    body = _BORN_RE.sub(" ", _DOC_NUMBER_RE.sub(" ", _RANGE_RE.sub(" ", text)))
    years: Counter[int] = Counter()
    for m in _YEAR_RE.finditer(body):
        years[int(m[1])] += 1
    for m in _NAMED_YEAR_RE.finditer(body):
        years[int(m[1])] += 1
    for m in _YEAR_RE.finditer(_RANGE_RE.sub(" ", title)):
        years[int(m[1])] += 3
    return years


def year_before(day: int, month: int, anchor: str, slack_days: int = 2) -> int | None:
    """The year that puts ``day/month`` on or just before the ``anchor`` ISO date (an event
    reported on 2/1/2007 as "ngày 29/12" happened in 2006)."""
    limit = dt.date.fromisoformat(anchor) + dt.timedelta(days=slack_days)
    for year in (limit.year, limit.year - 1):
        iso = valid_date(year, month, day)
        if iso and dt.date.fromisoformat(iso) <= limit:
            return year
    return None


def year_from_text(month: int, years: Counter[int]) -> int | None:
    """The year of an event the text dates by day and month only: the year the text is most
    about, or the next one for a meeting early in the year that plans it (a January review of
    year Y that sets the tasks of Y+1 is held in Y+1)."""
    if not years:
        return None
    top = max(years, key=lambda y: (years[y], y))
    if month <= 2 and years.get(top + 1):
        return top + 1
    return top


def _top_lines(paragraphs: list[str], title_at: int) -> tuple[tuple[str, str] | None, ...]:
    """``(header, byline)``: the first date line above the title and the first below it,
    each as (ISO date, kind)."""
    header = byline = None
    for i, para in enumerate(paragraphs[:TOP_PARAGRAPHS]):
        if not is_date_line(para):
            continue
        iso = find_date(para)
        stamped = bool(_TIME_RE.search(para) or _BYLINE_WORDS_RE.search(para))
        if not stamped and (i < title_at or _WEEKDAY_RE.search(para)):
            header = header or (iso, "header")  # the site's "today", not the page's date
        else:
            byline = byline or (iso, "byline")
    return header, byline


def _title_index(paragraphs: list[str], title: str) -> int:
    for i, para in enumerate(paragraphs[:TOP_PARAGRAPHS]):
        if para == title:
            return i
    return 0


def date_document(text: str, title: str = "") -> Dating:
    """The dates of a cleaned document (see :class:`Dating`)."""
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    title_at = _title_index(paragraphs, title.strip())
    header, byline = _top_lines(paragraphs, title_at)
    byline = byline or _footer_line(paragraphs)
    pub_iso, pub_kind = (byline or header) or (None, None)
    body = [p for p in paragraphs[title_at + 1:] if not is_date_line(p)][:LEAD_PARAGRAPHS]
    lead = next((found for p in body if (found := lead_date(p, sentences=2))), None)
    if lead is None:
        return _without_lead_day(title, body, byline, pub_iso, pub_kind)
    if lead.year is not None:
        return Dating(valid_date(lead.year, lead.month, lead.day), "lead", pub_iso, pub_kind)
    prose = "\n\n".join(p for p in paragraphs if not is_date_line(p))
    if byline:
        year, source = year_before(lead.day, lead.month, byline[0]), "lead+byline"
    else:
        year, source = year_from_text(lead.month, text_years(prose, title)), "lead+text"
    iso = valid_date(year, lead.month, lead.day) if year else None
    return Dating(iso, source if iso else None, pub_iso, pub_kind)


def _without_lead_day(title: str, body: list[str], byline, pub_iso, pub_kind) -> Dating:
    """No day in the lead: a full date in the title, "hôm qua"/"hôm nay" against the byline,
    or the byline's date itself."""
    in_title = find_date(title) if title else None
    if in_title:
        return Dating(in_title, "title", pub_iso, pub_kind)
    if byline:
        relative = next((d for p in body if (d := relative_day(p, byline[0]))), None)
        if relative:
            return Dating(relative, "lead+byline", pub_iso, pub_kind)
        return Dating(byline[0], "byline", pub_iso, pub_kind)
    return Dating(None, None, pub_iso, pub_kind)


def _footer_line(paragraphs: list[str]) -> tuple[str, str] | None:
    """A stamped date line among the last paragraphs ("Đăng lúc 06:20 ngày 06/01/2006")."""
    for para in reversed(paragraphs[-3:]):
        if is_date_line(para) and (_TIME_RE.search(para) or _BYLINE_WORDS_RE.search(para)):
            return find_date(para), "footer"
    return None
