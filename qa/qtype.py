"""What kind of answer a question expects (Vietnamese, with or without diacritics, or English).

``classify(question)`` returns a :class:`QuestionInfo`: the expected answer type, the head noun
that follows "bao nhiêu"/"mấy" or precedes "nào" (folded), the date grain and a few flags.
Rules are written once with diacritics; a question typed without diacritics is matched on
folded text against the folded rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from index.text import fold_lower, has_vietnamese_marks, normalize

SHORT_TYPES = frozenset({"number", "duration", "date", "person", "place", "list", "entity",
                         "definition"})

_REASON = ("vì sao", "tại sao", "lý do", "lí do", "nguyên nhân", "do đâu", "vì đâu")
_MANNER = ("như thế nào", "thế nào", "ra sao", "bằng cách nào", "cách nào")
_DURATION = ("bao lâu", "trong bao lâu", "mất bao lâu")
_PERCENT = ("tỷ lệ", "tỉ lệ", "phần trăm", "bao nhiêu %", "tỷ trọng", "tỉ trọng")
_NUMBER = ("bao nhiêu", "mấy", "số lượng")
_DATE = {
    "day": ("ngày nào", "ngày bao nhiêu", "ngày tháng năm nào", "hôm nào"),
    "month": ("tháng nào", "tháng mấy", "tháng bao nhiêu"),
    "year": ("năm nào", "năm bao nhiêu", "năm mấy", "thế kỷ nào", "thập niên nào", "thập kỷ nào"),
    "any": ("khi nào", "bao giờ", "lúc nào", "thời điểm nào", "thời gian nào", "hồi nào",
            "thời kỳ nào"),
}
_PERSON = ("ai", "người nào", "vị nào", "đồng chí nào", "ông nào", "bà nào", "những ai")
_PLACE_WORDS = ("xã", "huyện", "tỉnh", "thôn", "thị trấn", "thị xã", "thành phố", "phường", "quận",
                "nước", "quốc gia", "vùng", "khu vực", "bản", "làng", "xóm", "địa phương",
                "châu lục", "thủ đô", "sông", "núi", "đảo", "miền")
_PLACE = ("ở đâu", "tại đâu", "nơi nào", "chỗ nào", "địa điểm nào", "đâu là", "nơi đâu", "từ đâu",
          "đến đâu", "về đâu")
_DEFINITION = ("là gì", "gì", "cái gì", "điều gì", "những gì", "là ai")
_ROLE = ("chức vụ", "chức danh", "giữ chức", "cương vị", "làm chức")
_HEAD_STOP_WORDS = (
    "trong", "của", "vào", "tại", "ở", "cho", "được", "đã", "là", "và", "với", "so", "khi", "từ",
    "đến", "trên", "dưới", "theo", "do", "mà", "thì", "nào", "còn", "đạt", "có", "không", "hiện",
    "này", "đó", "mới", "tham", "thuộc", "sau", "trước", "bị", "đang", "sẽ", "cả", "tính")
_HEAD_STOP = frozenset(_HEAD_STOP_WORDS)
_HEAD_STOP_FOLDED = frozenset(fold_lower(w) for w in _HEAD_STOP_WORDS) - {"dang"}  # đảng ≠ đang
_EN_WORDS = frozenset([
    "the", "is", "was", "were", "what", "who", "whom", "whose", "how", "which", "when", "where",
    "why", "did", "does", "do", "of", "in", "many", "much", "a", "an", "are"
])
_EN_QUANTITY = (r"\b(what|which) (is|was|were|are) the (total |overall )?(number|amount|area|"
                r"population|output|revenue|value|size|length|budget|yield|income|volume|"
                r"quantity|cost|expenditure|production)\b")
_EN_RULES = (
    ("reason", None, r"\bwhy\b"),
    ("number", "percent", r"\b(percent|percentage|rate|ratio|proportion|share)\b"),
    ("number", None, r"\bhow (many|much)\b|\b(number|amount) of\b"),
    ("duration", None, r"\bhow long\b"), ("number", None, _EN_QUANTITY),
    ("date", "year", r"\b(what|which) (year|century|decade)\b"),
    ("date", "day", r"\b(what|which|on what) (day|date)\b"), ("date", "any", r"\bwhen\b"),
    ("person", None, r"\b(who|whom|whose)\b"), ("place", None, r"\bwhere\b"),
    ("list", None, r"\b(what|which) (communes|districts|villages|provinces|towns|places)\b"),
    ("place", None, r"\b(what|which) (commune|district|village|province|town|place)\b"),
    ("manner", None, r"\bhow\b"), ("entity", None, r"\bwhich\b"),
    ("definition", None, r"\bwhat\b"),
)
_EN_MONEY = r"\b(money|spend|spent|cost|budget|revenue|income|capital|investment|fund|funds)\b"
MONEY_WORDS = ("tổng thu", "thu ngân sách", "chi ngân sách", "chi phí", "đã chi", "được chi",
               "chi trả", "ngân sách", "kinh phí", "vốn", "tiền", "giá trị", "doanh thu",
               "thu nhập", "đầu tư", "nguồn vốn", "lợi nhuận", "giải ngân", "nộp")


@dataclass(frozen=True)
class QuestionInfo:
    """The expected answer of a question.

    ``qtype``: number, duration, date, person, place, list, entity, definition, reason, manner
    or other. ``head``: folded head-noun tokens ("đảng viên" -> ("dang", "vien")). ``grain``:
    day/month/year/any for dates. ``percent``: a rate is asked. ``money``: the subject is money.
    ``ordinal``: a rank is asked ("lần thứ mấy").
    """

    qtype: str
    head: tuple[str, ...] = ()
    grain: str | None = None
    percent: bool = False
    money: bool = False
    english: bool = False
    ordinal: bool = False

    @property
    def short(self) -> bool:
        """True when the answer should be a phrase (figure, name, date, place, list)."""
        return self.qtype in SHORT_TYPES


def is_english(question: str) -> bool:
    """True when the question looks English (no diacritics, several English function words)."""
    if has_vietnamese_marks(question):
        return False
    words = re.findall(r"[a-z]+", question.lower())
    return sum(w in _EN_WORDS for w in words) >= 2 or (bool(words) and words[0] in _EN_WORDS
                                                       and words[0] not in {"a", "do"})


def _norm(question: str) -> tuple[str, bool]:
    """Space-joined lower-case words of the question, folded when typed without diacritics."""
    text = normalize(question).lower()
    folded = not has_vietnamese_marks(text)
    if folded:
        text = fold_lower(text)
    return " " + " ".join(re.findall(r"\w+|%", text)) + " ", folded


def _find(text: str, folded: bool, phrases: tuple[str, ...]) -> re.Match[str] | None:
    """First whole-word match of any phrase (folded when the question is folded)."""
    best: re.Match[str] | None = None
    for phrase in phrases:
        p = fold_lower(phrase) if folded else phrase
        m = re.search(r"(?<= )" + re.escape(p) + r"(?= )", text)
        if m and (best is None or m.start() < best.start()):
            best = m
    return best


def head_after(text: str, pos: int, folded: bool, max_words: int = 4) -> tuple[str, ...]:
    """Folded head-noun words starting at ``pos`` of the normalised question."""
    words = text[pos:].split()
    stop = _HEAD_STOP_FOLDED if folded else _HEAD_STOP
    head: list[str] = []
    for i, word in enumerate(words[:max_words]):
        w = fold_lower(word)
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if word in stop or word[0].isdigit() or (w in {"nam", "thang"} and nxt[:1].isdigit()):
            break
        head.append(w)
    return tuple(head)


def head_before(text: str, end: int, folded: bool, max_words: int = 2) -> tuple[str, ...]:
    """Folded words just before position ``end`` (the noun that "nào" qualifies)."""
    stop = _HEAD_STOP_FOLDED if folded else _HEAD_STOP
    words = text[:end].split()[-max_words:]
    while words and (words[0] in stop or words[0][0].isdigit()):
        words = words[1:]
    return tuple(fold_lower(w) for w in words)


def _classify_english(question: str) -> QuestionInfo:
    """Expected answer type of an English question."""
    text = question.lower()
    money = re.search(_EN_MONEY, text) is not None
    for qtype, flag, pattern in _EN_RULES:
        if re.search(pattern, text):
            grain = flag if qtype == "date" else None
            return QuestionInfo(qtype, grain=grain, percent=flag == "percent",
                                money=money and qtype == "number", english=True)
    return QuestionInfo("other", english=True)


def classify(question: str) -> QuestionInfo:
    """The :class:`QuestionInfo` of ``question`` (any Unicode form, diacritics optional)."""
    if is_english(question):
        return _classify_english(question)
    text, folded = _norm(question)
    money = _find(text, folded, MONEY_WORDS) is not None
    if _find(text, folded, _REASON):
        return QuestionInfo("reason")
    if _find(text, folded, _MANNER) and not _find(text, folded, _NUMBER):
        return QuestionInfo("manner")
    if _find(text, folded, _DURATION):
        return QuestionInfo("duration")
    for grain, phrases in _DATE.items():
        if _find(text, folded, phrases):
            return QuestionInfo("date", grain=grain)
    m = _find(text, folded, _NUMBER)
    if m and _find(text, folded, ("thứ mấy", "thứ bao nhiêu")):
        return QuestionInfo("number", ordinal=True)
    if m:
        percent = _find(text, folded, _PERCENT) is not None
        head = head_after(text, m.end() + 1, folded)
        if head[:1] in {("nam",), ("thang",), ("ngay",), ("gio",), ("tuan",)} and len(head) == 1:
            return QuestionInfo("duration", head=head)
        return QuestionInfo("number", head=head, percent=percent, money=money)
    return _classify_names(text, folded)


def _classify_names(text: str, folded: bool) -> QuestionInfo:
    """Person, list, place, entity and sentence-type questions."""
    if _find(text, folded, _PERSON):
        return QuestionInfo("person")
    m = re.search(r"(?<= )(những|các|nhung|cac) ((?:\w+ ){1,3})nào(?= )" if not folded
                  else r"(?<= )(nhung|cac) ((?:\w+ ){1,3})nao(?= )", text)
    if m:
        return QuestionInfo("list", head=tuple(fold_lower(w) for w in m.group(2).split()))
    m = _find(text, folded, tuple(f"{w} nào" for w in _PLACE_WORDS))
    if m:
        return QuestionInfo("place", head=tuple(fold_lower(w) for w in m.group().split()[:-1]))
    if _find(text, folded, _PLACE):
        return QuestionInfo("place")
    m = re.search(r"(?<= )(nào|nao)(?= )" if folded else r"(?<= )nào(?= )", text)
    if m:
        return QuestionInfo("entity", head=head_before(text, m.start(), folded))
    if _find(text, folded, _DEFINITION):
        role = _find(text, folded, _ROLE) is not None
        return QuestionInfo("definition", head=("chuc", "vu") if role else ())
    return QuestionInfo("other")


# English words of local-government reports -> the Vietnamese words the documents use. Lets an
# English question be matched lexically against Vietnamese sentences (longest phrase first).
EN_VI: dict[str, str] = {
    "party members": "đảng viên", "party member": "đảng viên", "party committee": "đảng bộ",
    "party organizations": "tổ chức đảng", "party organisations": "tổ chức đảng",
    "executive committee": "ban chấp hành", "standing committee": "thường trực",
    "standing board": "ban thường vụ", "people's committee": "ubnd", "people's council": "hđnd",
    "state budget": "ngân sách nhà nước", "budget revenue": "thu ngân sách",
    "poverty rate": "tỷ lệ hộ nghèo", "poor households": "hộ nghèo", "new rural": "nông thôn mới",
    "new countryside": "nông thôn mới", "national standard": "chuẩn quốc gia",
    "national standards": "chuẩn quốc gia", "deputy secretary": "phó bí thư",
    "production value": "giá trị sản xuất", "food output": "sản lượng lương thực",
    "grain output": "sản lượng lương thực", "food production": "sản lượng lương thực",
    "working delegation": "đoàn công tác", "planted area": "diện tích trồng",
    "sown area": "diện tích gieo trồng", "key tasks": "nhiệm vụ trọng tâm",
    "district": "huyện", "districts": "huyện", "province": "tỉnh", "provincial": "tỉnh",
    "commune": "xã", "communes": "xã", "village": "thôn", "villages": "thôn",
    "town": "thị trấn", "city": "thành phố", "poverty": "nghèo", "poor": "nghèo",
    "households": "hộ", "household": "hộ", "rate": "tỷ lệ", "percentage": "tỷ lệ",
    "budget": "ngân sách", "revenue": "thu", "revenues": "thu", "collected": "thu",
    "spend": "chi", "spent": "chi", "expenditure": "chi", "forest": "rừng", "forests": "rừng",
    "forestation": "trồng rừng", "afforestation": "trồng rừng", "planted": "trồng",
    "planting": "trồng", "area": "diện tích", "hectares": "ha", "rice": "lúa",
    "crops": "cây trồng", "crop": "cây trồng", "sown": "gieo trồng", "output": "sản lượng",
    "yield": "năng suất", "tons": "tấn", "tonnes": "tấn", "value": "giá trị",
    "production": "sản xuất", "industrial": "công nghiệp", "industry": "công nghiệp",
    "agricultural": "nông nghiệp", "agriculture": "nông nghiệp", "forestry": "lâm nghiệp",
    "investment": "đầu tư", "capital": "vốn", "disbursement": "giải ngân",
    "disbursed": "giải ngân", "admitted": "kết nạp", "admit": "kết nạp",
    "disciplined": "kỷ luật", "discipline": "kỷ luật", "meeting": "hội nghị",
    "conference": "hội nghị", "session": "kỳ họp", "delegation": "đoàn", "led": "trưởng đoàn",
    "headed": "trưởng đoàn", "chaired": "chủ trì", "chair": "chủ trì", "presided": "chủ trì",
    "secretary": "bí thư", "chairman": "chủ tịch", "established": "thành lập",
    "founded": "thành lập", "founding": "thành lập", "schools": "trường", "school": "trường",
    "houses": "nhà ở", "housing": "nhà ở", "homes": "nhà ở", "support": "hỗ trợ",
    "targets": "chỉ tiêu", "target": "chỉ tiêu", "tasks": "nhiệm vụ", "task": "nhiệm vụ",
    "products": "sản phẩm", "product": "sản phẩm", "stars": "sao", "star": "sao",
    "total": "tổng", "new": "mới", "year": "năm", "months": "tháng", "month": "tháng",
    "population": "dân số", "people": "người", "tourists": "khách du lịch",
    "income": "thu nhập", "pandemic": "dịch", "epidemic": "dịch", "prevention": "phòng chống",
    "timber": "gỗ", "large": "lớn", "completed": "hoàn thành", "excellent": "xuất sắc",
    "plan": "kế hoạch", "estimate": "dự toán", "spoke": "phát biểu", "speech": "phát biểu",
    "awarded": "tặng", "certificates": "giấy khen", "university": "đại học",
    "enterprises": "doanh nghiệp", "enterprise": "doanh nghiệp", "businesses": "doanh nghiệp",
    "companies": "doanh nghiệp", "cooperatives": "hợp tác xã", "cooperative": "hợp tác xã",
    "members": "thành viên", "comrades": "đồng chí", "elected": "bầu", "resolution": "nghị quyết",
    "resolutions": "nghị quyết", "congress": "đại hội", "term": "nhiệm kỳ", "security": "an ninh",
    "economic": "kinh tế", "economy": "kinh tế", "growth": "tăng trưởng", "reduced": "giảm",
    "decrease": "giảm", "increase": "tăng", "increased": "tăng", "repaired": "sửa chữa",
    "built": "xây dựng", "construction": "xây dựng", "projects": "dự án", "project": "dự án",
    "works": "công trình", "roads": "đường", "road": "đường", "land": "đất đai",
    "trade": "thương mại", "services": "dịch vụ", "tourism": "du lịch", "health": "y tế",
    "education": "giáo dục", "teachers": "giáo viên", "students": "học sinh",
    "workers": "lao động", "jobs": "việc làm", "goal": "mục tiêu", "goals": "mục tiêu",
}
_EN_PHRASE_RE = re.compile(
    r"\b(" + "|".join(re.escape(k) for k in sorted(EN_VI, key=len, reverse=True)) + r")\b")
_EN_CONTENT_STOP = frozenset([
    "the", "a", "an", "of", "in", "on", "at", "to", "for", "from", "by", "with", "is", "was",
    "were", "are", "be", "been", "did", "do", "does", "what", "who", "whom", "whose", "which",
    "when", "where", "why", "how", "many", "much", "and", "or", "as", "that", "this", "it",
    "its", "into", "than", "there", "their", "has", "have", "had", "number", "amount", "s",
    "working", "with", "during", "after", "before", "about", "get", "got", "reach", "reached",
])


def english_terms(question: str) -> tuple[str, ...]:
    """Content words of an English question: glossary words in Vietnamese, others folded."""
    text = _EN_PHRASE_RE.sub(lambda m: " " + EN_VI[m.group()] + " ", question.lower())
    words = re.findall(r"\d+(?:[.,/]\d+)*%?|\w+", text)
    return tuple(w for w in words if w not in _EN_CONTENT_STOP)


_NAME_STOP = frozenset([
    "nao", "nay", "do", "cua", "la", "co", "dat", "nam", "da", "duoc", "trong", "tren", "va",
    "voi", "ve", "tai", "o", "gi", "bao", "nhieu", "moi", "dang", "se", "thi", "con", "ai",
    "khi", "cac", "nhung", "mot", "toan", "tu", "den", "sau", "truoc", "hien", "nay", "uoc",
])
_PLACE_BEFORE_RE = re.compile(r"\b(?:huyen|tinh|xa|thi tran|thi xa|thanh pho|thon|phuong|quan)"
                              r"(?: uy)?\s+(\w+)(?:\s+(\w+))?")


def topic_names(question: str) -> tuple[str, ...]:
    """Folded place names a question is about ("huyện Cao Lộc" -> "cao loc"; English: "Ba Che
    district" -> "ba che"), to check that a sentence's document is about them."""
    names: list[str] = []
    if is_english(question):
        for m in re.finditer(r"(?<!^)(?<![.?!] )\b([A-Z][a-z]+(?: [A-Z][a-z]+)+)\b", question):
            names.append(fold_lower(m.group(1)))
        return tuple(dict.fromkeys(names))
    original = normalize(question)
    text = fold_lower(original)  # same length as ``original``
    cased = any(c.isupper() for c in original[1:])
    for m in _PLACE_BEFORE_RE.finditer(text):
        words = [w for w in m.groups() if w]
        if words[0] in _NAME_STOP or (cased and not original[m.start(1)].isupper()):
            continue
        words = words[:1] if len(words) > 1 and words[1] in _NAME_STOP else words
        names.append(" ".join(words))
    return tuple(dict.fromkeys(names))
