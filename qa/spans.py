"""Candidate answer spans inside a sentence: figures, dates, names, places, lists.

``extract(text, head)`` returns :class:`Candidate` spans with offsets into ``text``. Each
candidate has a ``kind`` (number, percent, date, year, person, place, name, list) and an
``evidence`` in [0, 1] saying how sure the surface form is (a surname or a title before a
name, a place word before a place, a unit or the question's head noun after a figure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from index.text import fold_lower
from qa.lexicon import (
    APPROXIMATORS,
    MULTIPLIERS,
    NAME_PARTICLES,
    NOT_NAME_STARTS,
    NUMBER_WORDS,
    ORG_HEADS,
    PLACE_WORDS,
    SURNAMES,
    TITLES,
    UNITS,
)

_NUM = r"\d+(?:[.,]\d+)*(?:/\d+(?:[.,]\d+)*)?(?:\s?%)?"
_NUM_RE = re.compile(r"(?<![\w.,/])(?<!\w-)" + _NUM + r"(?:\s*(?:-|–|:)\s*" + _NUM
                     + r"|\s+(?:đến|tới)\s+" + _NUM + r")?(?![\w/])")
_FULL_DATE_RE = re.compile(
    r"(?<![\d/])(?:(?i:ngày)\s+)?(\d{1,2})\s*(?:/|-|\s+tháng\s+)(\d{1,2})\s*(?:/|-|\s+năm\s+)(\d{4})(?![\d/])")
_MONTH_RE = re.compile(r"(?i:tháng)\s+(\d{1,2})\s*(?:/|-|\s+năm\s+)(\d{4})(?![\d/])")
_NUMWORD_RE = re.compile(
    r"(?<!\w)(?:" + "|".join(NUMBER_WORDS[:8]) + r")(?:\s+(?:" + "|".join(NUMBER_WORDS)
    + r"))*(?!\w)")
_WORD_RE = re.compile(r"[A-Z]\.|[^\W\d_]+(?:['’][^\W\d_]+)?")
_LIST_SEP_RE = re.compile(r"\s*(?:,\s*(?:và|hoặc)?|và|hoặc)\s*")


@dataclass(frozen=True)
class Candidate:
    """A possible short answer: ``text[start:end]``; ``core`` is the bare figure or name."""

    start: int
    end: int
    kind: str
    evidence: float
    core_start: int
    core_end: int
    unit: str = ""  # folded unit or head words that follow a figure, or the place word before
    head_match: bool = False


def _words_at(text: str, pos: int, phrases: tuple[str, ...]) -> str:
    """The longest phrase (case-insensitive, whole words) starting at ``pos``, else ``""``."""
    low = text[pos:pos + 40].lower()
    for phrase in sorted(phrases, key=len, reverse=True):
        if low.startswith(phrase) and not low[len(phrase):len(phrase) + 1].isalnum():
            return phrase
    return ""


def _words_before(text: str, pos: int, phrases: tuple[str, ...]) -> str:
    """The longest phrase that ends (whole words) right before ``pos`` (spaces skipped)."""
    low = text[max(0, pos - 30):pos].rstrip().lower()
    for phrase in sorted(phrases, key=len, reverse=True):
        if low.endswith(phrase) and not low[-len(phrase) - 1:-len(phrase)].isalnum():
            return phrase
    return ""


def acronym(words: tuple[str, ...]) -> str:
    """First letters of folded words: ("hop", "tac", "xa") -> "htx"."""
    return "".join(w[0] for w in words if w) if len(words) >= 2 else ""


def head_length(text: str, pos: int, head: tuple[str, ...]) -> int:
    """Characters after ``pos`` matching the longest prefix of ``head`` (or its acronym)."""
    m = re.match(r"\s?\(?((?:[\w-]+ ?){1,4})", text[pos:])
    if not m or not head:
        return 0
    words = m.group(1).split()
    n = 0
    while n < min(len(words), len(head)) and fold_lower(words[n]) == head[n]:
        n += 1
    if n == 0 and words and fold_lower(words[0]) == acronym(head):
        n = 1
    if n == 0:
        return 0
    last = re.match(r"\s?\(?" + r"\s".join(re.escape(w) for w in words[:n]), text[pos:])
    return last.end() if last else 0


def _unit_length(text: str, pos: int) -> tuple[int, str]:
    """Characters after ``pos`` taken by a multiplier and/or unit, and the folded unit."""
    end = pos
    mult = _words_at(text, end + 1, MULTIPLIERS) if text[end:end + 1] == " " else ""
    if mult:
        end += 1 + len(mult)
    unit = _words_at(text, end + 1, UNITS) if text[end:end + 1] == " " else ""
    if unit:
        end += 1 + len(unit)
    return end - pos, fold_lower((mult + " " + unit).strip())


def _approx_start(text: str, start: int) -> int:
    """Start moved left over an approximator such as "trên", "gần", "khoảng"."""
    word = _words_before(text, start, APPROXIMATORS)
    if not word:
        return start
    return len(text[:start].rstrip()) - len(word)


def _number_kind(text: str, m: re.Match[str]) -> tuple[str, float]:
    """Kind and evidence of a bare figure: percent, year, short date or plain number."""
    value = re.sub(r"\s+%$", "%", m.group())
    if re.fullmatch(r"(?:19|20)\d\d\s*[-–]\s*(?:19|20)\d\d", value):
        return "year", 0.5  # a term "2020 - 2025", not a figure
    if value != value.split()[0] or re.search(r"\d\s*[-–:]\s*\d", value):
        return "number", 0.9  # a range "6-9%", "0,3 đến 0,6", a ratio "20:1"
    if value.endswith("%"):
        return "percent", 1.0
    if _words_before(text, m.start(), ("thứ",)):
        return "ordinal", 0.9  # "lần thứ 15" ranks, it does not count
    if re.fullmatch(r"\d{4}", value) and 1000 <= int(value) <= 2100:
        return "year", 0.8 if _words_before(text, m.start(), ("năm",)) else 0.5
    parts = value.split("/")
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        day, month = int(parts[0]), int(parts[1])
        if 1 <= day <= 31 and 1 <= month <= 12:
            dated = _words_before(text, m.start(), ("ngày", "(", "hôm")) or text[
                m.start() - 1:m.start()] == "("
            return ("date", 0.9) if dated else ("number", 0.6)
    return "number", 1.0


def number_candidates(text: str, head: tuple[str, ...]) -> list[Candidate]:
    """Figures with a following unit or echoed head noun and a leading approximator."""
    out: list[Candidate] = []
    for m in list(_NUM_RE.finditer(text)) + list(_NUMWORD_RE.finditer(text)):
        kind, evidence = _number_kind(text, m) if m.group()[0].isdigit() else ("number", 0.5)
        hlen = head_length(text, m.end(), head)
        ulen, unit = _unit_length(text, m.end())
        if kind == "ordinal":
            hlen = ulen = 0
        if kind == "year" and (hlen or (ulen and unit not in {"nam"})):
            kind, evidence = "number", 0.9
        end = m.end() + max(hlen, ulen)
        out.append(Candidate(_approx_start(text, m.start()), end, kind, evidence, m.start(),
                             m.end(), unit=" ".join(head) if hlen >= ulen and hlen else unit,
                             head_match=hlen > 0))
    return out


def date_candidates(text: str) -> list[Candidate]:
    """Full dates ("04/11/1831", "5 tháng 11 năm 2020") and months ("tháng 10/2020")."""
    out: list[Candidate] = []
    for m in _FULL_DATE_RE.finditer(text):
        if 1 <= int(m.group(1)) <= 31 and 1 <= int(m.group(2)) <= 12:
            out.append(Candidate(m.start(), m.end(), "date", 1.0, m.start(), m.end()))
    for m in _MONTH_RE.finditer(text):
        if 1 <= int(m.group(1)) <= 12:
            out.append(Candidate(m.start(), m.end(), "month", 0.9, m.start(), m.end()))
    return out


def is_capitalised(word: str) -> bool:
    """"Nghiệm", "McKinsey", "O." yes; "ủy", "HĐND", "UBND" no."""
    core = word.rstrip(".")
    return core[:1].isupper() and (len(core) == 1 or not core.isupper())


def _cap_runs(text: str) -> list[tuple[int, int]]:
    """Runs of capitalised words ("Hoàng Văn Nghiệm"); all-caps acronyms break runs."""
    runs: list[tuple[int, int]] = []
    for m in _WORD_RE.finditer(text):
        if not is_capitalised(m.group()):
            continue
        gap = text[runs[-1][1]:m.start()] if runs else ""
        if runs and (gap == " " or gap.strip() in NAME_PARTICLES and gap.startswith(" ")
                     and gap.endswith(" ") and gap.count(" ") == 2):
            runs[-1] = (runs[-1][0], m.end())
        else:
            runs.append((m.start(), m.end()))
    return runs


def _trim_run(text: str, start: int, end: int) -> tuple[int, int, int]:
    """Drop a capitalised sentence-opening word; returns (start, end, number of words)."""
    words = text[start:end].split(" ")
    if start == 0 and len(words) > 1 and words[0].lower() not in SURNAMES:
        start += len(words[0]) + 1
        words = words[1:]
    elif start == 0 and len(words) == 1:
        return start, start, 0
    return start, end, len(words)


def _person_in_run(text: str, start: int, end: int) -> Candidate | None:
    """The person name in a run: from its first surname, 2-4 words."""
    words = text[start:end].split(" ")
    for i, word in enumerate(words):
        if word.lower() in SURNAMES and len(words) - i >= 2:
            s = start + sum(len(w) + 1 for w in words[:i])
            e = s + len(" ".join(words[i:i + 4]))
            titled = bool(_words_before(text, s, TITLES))
            full = len(words) - i >= 3
            return Candidate(s, e, "person", 1.0 if titled else (0.85 if full else 0.6), s, e)
    return None


def name_candidates(text: str) -> list[Candidate]:
    """Persons, places (after a place word) and other capitalised names."""
    out: list[Candidate] = []
    for run in _cap_runs(text):
        start, end, n = _trim_run(text, *run)
        if n == 0:
            continue
        place_word = _words_before(text, start, PLACE_WORDS)
        if place_word:
            out.append(Candidate(start, end, "place", 1.0, start, end, unit=fold_lower(place_word)))
            continue
        person = _person_in_run(text, start, end)
        if person is not None:
            out.append(person)
            continue
        titled = bool(_words_before(text, start, TITLES))
        foreign = text[start:end].isascii()
        after_prep = bool(_words_before(text, start, ("tại", "ở", "đến", "từ", "về")))
        kind = "person" if titled and n >= 2 else ("place" if after_prep else "name")
        evidence = 0.9 if titled else (0.6 if foreign or after_prep else 0.35)
        if not titled and text[start:end].split(" ")[0].lower() in NOT_NAME_STARTS:
            evidence = 0.15
        out.append(Candidate(start, end, kind, evidence, start, end))
    return out


def org_candidates(text: str) -> list[Candidate]:
    """Institution names whose inner words may be lower-case ("Đại học Nông lâm Thái
    Nguyên"): an organisation word, then words up to the last capitalised one, never two
    lower-case words in a row."""
    out: list[Candidate] = []
    heads = "|".join(re.escape(h) for h in sorted(ORG_HEADS, key=len, reverse=True))
    for m in re.finditer(r"(?<!\w)(?i:" + heads + r")(?!\w)", text):
        if not text[m.start()].isupper():
            continue
        tail = re.match(r"(?: [^\W\d_]+)+", text[m.end():m.end() + 80])
        end, lower_run = m.end(), 0
        for word in re.finditer(r" ([^\W\d_]+)", tail.group() if tail else ""):
            lower_run = 0 if word.group(1)[0].isupper() else lower_run + 1
            if lower_run >= 2:
                break
            if lower_run == 0:
                end = m.end() + word.end()
        if end > m.end():
            out.append(Candidate(m.start(), end, "name", 0.8, m.start(), end,
                                 unit=fold_lower(m.group())))
    return out


def list_candidates(text: str, names: list[Candidate]) -> list[Candidate]:
    """Coordinated names ("Xuất Lễ và Tân Liên", "A, B và C") as one span."""
    out: list[Candidate] = []
    group: list[Candidate] = []
    for cand in sorted(names, key=lambda c: c.start) + [None]:
        joined = (cand is not None and group and cand.evidence > 0.2
                  and _LIST_SEP_RE.fullmatch(text[group[-1].end:cand.start]) is not None)
        if joined:
            group.append(cand)
            continue
        if len(group) >= 2 and all(c.evidence > 0.2 for c in group):
            unit = next((c.unit for c in group if c.unit), "")
            # a place word before the first name governs the list ("xã A, B và C")
            evidence = (group[0].evidence if group[0].kind == "place" and group[0].unit
                        else sum(c.evidence for c in group) / len(group))
            out.append(Candidate(group[0].start, group[-1].end, "list", max(evidence, 0.6),
                                 group[0].start, group[-1].end, unit=unit))
        group = [cand] if cand is not None else []
    return out


def predicate_candidates(text: str) -> list[Candidate]:
    """What follows "là" up to the end of its clause ("X là <nhà kinh tế học>, ...")."""
    out: list[Candidate] = []
    for m in re.finditer(r"(?<!\w)là\s+([^,;:.()]+)", text):
        start, end = m.start(1), m.start(1) + len(m.group(1).rstrip())
        if len(text[start:end].split()) >= 1:
            out.append(Candidate(start, end, "predicate", 0.8, start, end))
    return out


DOC_TYPES = ("nghị quyết", "quyết định", "chỉ thị", "kế hoạch", "nghị định", "thông tư",
             "công văn", "hướng dẫn", "kết luận", "quy định", "chương trình", "đề án", "luật")
ROLE_STOP_VERBS = ("phát biểu", "chủ trì", "làm", "ghi nhận", "yêu cầu", "cho biết", "nhấn mạnh",
                   "đề nghị", "chỉ rõ", "trao", "tặng", "dự", "kiểm tra", "điều hành", "chúc",
                   "báo cáo", "thăm", "tham dự", "khẳng định", "đánh giá")
_CODE_RE = re.compile(r"(?<![\w/.-])\d+(?:/\d{4})?[-/][A-ZĐ]+(?:[-/][A-ZĐ]+)*(?![\w/])")
_QUOTE_RE = re.compile(r"[“\"]([^”\"\n]{3,300})[”\"]")


def code_candidates(text: str) -> list[Candidate]:
    """Document numbers ("77-NQ/TU", "08/2019/NQ-HĐND"), widened over the document type and
    "số" before them ("Nghị quyết số 06-NQ/TU")."""
    out: list[Candidate] = []
    for m in _CODE_RE.finditer(text):
        start = m.start()
        numbered = _words_before(text, start, ("số",))
        at = len(text[:start].rstrip()) - len(numbered) if numbered else start
        kind_word = _words_before(text, at, DOC_TYPES)
        if kind_word:
            start = len(text[:at].rstrip()) - len(kind_word)
        out.append(Candidate(start, m.end(), "code", 1.0 if kind_word else 0.8,
                             m.start(), m.end(), unit=fold_lower(kind_word)))
    return out


def quote_candidates(text: str) -> list[Candidate]:
    """Quoted phrases (a motto, a theme, a title), without the quote marks."""
    return [Candidate(m.start(1), m.end(1), "quote", 0.9, m.start(1), m.end(1))
            for m in _QUOTE_RE.finditer(text)]


def role_candidates(text: str) -> list[Candidate]:
    """Positions written after a person's name ("Hoàng Văn Nghiệm, Phó Bí thư Tỉnh ủy,
    Chủ tịch HĐND tỉnh phát biểu" -> "Phó Bí thư Tỉnh ủy, Chủ tịch HĐND tỉnh")."""
    out: list[Candidate] = []
    for person in (c for c in name_candidates(text) if c.kind == "person"):
        m = re.match(r"\s*(?:,|-|–)\s*", text[person.end:])
        if not m:
            continue
        start = end = person.end + m.end()
        for seg in re.finditer(r"([^,;.()\n]+)(,\s*)?", text[start:]):
            words = seg.group(1).strip()
            if not words[:1].isupper():
                break
            cut = min((seg.group(1).find(" " + v + " ") for v in ROLE_STOP_VERBS
                       if " " + v + " " in seg.group(1) + " "), default=-1)
            end = start + seg.start(1) + (cut if cut >= 0 else len(seg.group(1).rstrip()))
            if cut >= 0 or not seg.group(2):
                break
        if end > start:
            out.append(Candidate(start, end, "role", 0.9, start, end))
    return out


def _with_prefix(text: str, cand: Candidate) -> Candidate:
    """A year or date widened over "năm"/"ngày" written right before it ("năm 2007")."""
    word = _words_before(text, cand.start, ("năm", "ngày", "vào năm"))
    if not word or cand.kind not in {"year", "date"}:
        return cand
    start = len(text[:cand.start].rstrip()) - len(word)
    return replace(cand, start=start)


def _drop_covered(cands: list[Candidate], dates: list[Candidate]) -> list[Candidate]:
    """Figures or months whose core lies inside a (longer) full date are not answers alone."""
    return [c for c in cands if not any(d.start <= c.core_start and c.core_end <= d.end
                                        and d.end - d.start > c.core_end - c.core_start
                                        for d in dates)]


def extract(text: str, head: tuple[str, ...] = ()) -> list[Candidate]:
    """Every candidate span of ``text`` (a sentence), sorted by start."""
    codes = code_candidates(text)
    dates = _drop_covered(date_candidates(text), codes)
    dates = _drop_covered(dates, dates)
    numbers = _drop_covered(number_candidates(text, head), dates + codes)
    names = _drop_covered(name_candidates(text), codes)
    cands = (numbers + dates + names + list_candidates(text, names) + codes
             + org_candidates(text))
    return sorted((_with_prefix(text, c) for c in cands), key=lambda c: (c.start, -c.end))
