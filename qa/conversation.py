"""Conversation-aware questions: a small pure resolver of (question, history).

A follow-up ("Còn năm 2021 thì sao?", "Đạt bao nhiêu phần trăm dự toán?", "Ai chủ trì buổi
làm việc đó?") is answered from the dialogue without any language model:

* :func:`is_follow_up` decides whether a turn depends on the earlier ones: surely when it has
  a dependent marker (đó, này, ấy, họ, "còn … thì sao", "năm trước", …) or only a few content
  words; never when it names something the dialogue has not; otherwise "softly", and the
  engine keeps it alone when its own question ranks first in another document (the second
  half of the guard, which needs retrieval).
* :func:`resolve` then builds the retrieval query (the question plus the content words of the
  previous turns, the most recent first), rewrites "Còn X thì sao?" into the previous question
  with X put in, and names the documents the previous answers cited, which the engine prefers.

Everything here is pure: NFC + canonical tone placement first; matching on folded text, so a
question typed without diacritics is understood too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hoidap.errors import InputError
from index.text import fold, fold_lower, normalize, words
from qa.types import QAResult

MAX_TURNS = 20  # history turns accepted per question
MAX_TURN_CHARS = 4000  # characters of one turn's question + answer
MAX_CONTEXT_WORDS = 16  # words carried from the history into the retrieval query
ANSWER_WORDS = 8  # content words taken from one previous answer
DECAY = 0.5  # weight of a turn relative to the one after it
MIN_WEIGHT = 0.25  # a carried word needs at least this much (recency-weighted) support
SHORT = 5  # a question with at most this many content words (syllables) is elliptical
SAME_TOPIC = 0.3  # share of content words found in the history that keeps the topic
RARE_SHARE = 0.02  # a word in at most this share of the corpus's chunks names a topic

RARE_MIN_CHUNKS = 500  # below this many chunks, word rarity says little: not used
# Words of what is asked rather than what it is about: never a topic of their own.
_GENERIC = frozenset(("phần", "trăm", "tỷ", "tỉ", "lệ", "số", "lượng", "tổng", "mức", "con",
                      "đồng", "triệu", "nghìn"))

Rare = Callable[[str], bool]  # is this (lowercase NFC) word specific to a few passages?


@dataclass(frozen=True)
class Turn:
    """One earlier exchange: the question, the answer hoidap gave (possibly empty) and, when
    known, the document that answer cited."""

    question: str
    answer: str = ""
    doc_id: str | None = None


@dataclass(frozen=True)
class Resolved:
    """How a question was understood in its dialogue.

    ``question``: what the reader answers (the question, or "Còn X thì sao?" rewritten);
    ``query``: what retrieval searches; ``prefer_doc_ids``: documents cited before, to be
    preferred; ``used_history``: False when the turn stands alone (then query == question);
    ``reason``: why it may be a follow-up (see :func:`is_follow_up`) or "".
    """

    question: str
    query: str
    prefer_doc_ids: tuple[str, ...] = ()
    used_history: bool = False
    reason: str = ""
    context: tuple[str, ...] = ()

    @property
    def understood(self) -> str:
        """What the reply shows after "Hiểu câu hỏi là:"."""
        if self.context:
            return f"{self.question} (ngữ cảnh: {' '.join(self.context)})"
        return self.question


# -- words ------------------------------------------------------------------------------------

# Function words and question words: never content, never carried over. Matched with their
# diacritics (folding "chỉ" would also drop "Chi Lăng"); a text typed without any diacritic is
# matched on the folded list.
_STOP_TEXT = """
a à ạ ai anh ấy bà bao bạn bằng bị bởi cả các cái cần chỉ cho chứ chưa có còn của cùng cũng
đã đang đây đấy để đến đều điều do đó được gì hay hãy hơn họ hỏi khi không kia là lại làm
lên lúc mà mấy mình mới một nào này nên nếu nhé nhỉ nhiêu như những nó nữa ở ông ra rằng
rồi sao sau sẽ so sự tại thế thì thôi tới trên trong từ và vẫn vào vậy về vì với vừa xin ư
hả gồm nhất chính cách thể đâu kìa nay hiện bây giờ thật thường ta tôi chúng em chị nhiều
ít lần việc người đi biết á ạ nhỉ hử vậy thì
"""
_STOP = frozenset(_STOP_TEXT.split())
_STOP_FOLDED = frozenset(fold_lower(w) for w in _STOP)
_STOP_PAIRS = ("bao nhiêu", "thế nào", "như thế nào", "ra sao", "ở đâu", "tại đâu", "khi nào",
               "bao giờ", "là gì", "vì sao", "tại sao")

# Dependent markers, folded; each is matched as whole words.
_MARKERS = ("ong ay", "ba ay", "anh ay", "chi ay", "thi sao", "nam truoc", "nam sau",
            "nam do", "noi tren", "luc do", "khi do", "ke tren", "vua neu")
# Markers safe on folded text (a question typed without diacritics): no collision with
# ordinary words ("do" = đó/do/đỏ, "nay" = này/nay, "ho" = họ/hộ/hồ are left out).
_FOLDED_MARKERS = ("thi sao", "ong ay", "ba ay", "anh ay", "chi ay", "nam truoc", "noi tren",
                   "ke tren", "vua neu", "luc do", "khi do", "nam do")
_START_MARKERS = ("còn", "vậy", "thế còn", "vậy thì")
# Dependent words (with diacritics: folded they collide with ordinary words).
_EXACT_MARKERS = frozenset({"đó", "này", "ấy", "kia", "họ", "nó", "cũng"})
# Set phrases where those words do not point back ("sau đó" = afterwards).
_NOT_MARKERS = ("sau đó", "do đó", "từ đó", "trong đó", "đó là", "hiện nay")

# Patterns over case-kept folded text (same length as the text, so spans carry over).
_ELLIPSIS = re.compile(
    r"^(?:(?:vay|the|va)\s+)?(?P<con>con)\s+(?P<x>.+?)\s*,?\s*(?P<tail>(?:thi\s+)?"
    r"(?:sao|the nao|nhu the nao|ra sao)|nua|)\s*[?.!]*$", re.IGNORECASE)
_YEAR = re.compile(r"\bnam\s+\d{4}\b", re.IGNORECASE)
_PLACE = re.compile(r"\b(?:huyen|xa|tinh|thanh pho|thi xa|thi tran|phuong|quan)"
                    r"(?:\s+[A-Z]\w*)+")
_QUANTITY = ("sản lượng", "tổng", "số", "tỷ lệ", "tỉ lệ", "giá trị", "diện tích", "doanh thu",
             "thu", "chi", "kinh phí", "vốn", "dân số", "mức", "lượng", "bao nhiêu")
_QWORDS = ("bao nhiêu", "mấy", "là ai", "ai", "là gì", "gì", "nào", "ở đâu", "tại đâu", "đâu",
           "khi nào", "bao giờ", "như thế nào", "thế nào", "ra sao", "vì sao", "tại sao")


def _folded_text(text: str) -> str:
    return " " + " ".join(fold_lower(w) for w in words(text)) + " "


def any_accented(ws: Sequence[str]) -> bool:
    """Whether any of the words ``ws`` carries a diacritic (else they are matched folded)."""
    return any(fold_lower(w) != w.lower() for w in ws)


def content_words(text: str) -> list[str]:
    """The content words of ``text``, lowercased NFC, in order, without function words or
    question phrases."""
    ws = words(text)
    accented = any_accented(ws)
    key = (lambda w: w.lower()) if accented else (lambda w: fold_lower(w))
    stop = _STOP if accented else _STOP_FOLDED
    keys = [key(w) for w in ws]
    drop = set()
    for pair in _STOP_PAIRS:
        p = pair.split() if accented else fold_lower(pair).split()
        for i in range(len(keys) - 1):
            if keys[i:i + 2] == p or keys[i:i + 3] == p:
                drop.update(range(i, i + len(p)))
    return [w.lower() for i, (w, k) in enumerate(zip(ws, keys, strict=True))
            if i not in drop and k not in stop and (len(k) > 1 or k.isdigit())]


def _names(text: str) -> list[str]:
    """Capitalised words after the first one (proper nouns, acronyms), folded."""
    return [fold_lower(w) for w in words(text)[1:] if w[:1].isupper()]


def _has(folded: str, phrase: str) -> bool:
    return f" {phrase} " in folded


def marker(question: str) -> str | None:
    """The dependent marker of ``question`` (folded), or None."""
    text = normalize(question)
    ws = [w.lower() for w in words(text)]
    if not ws:
        return None
    folded = _folded_text(text)
    accented = fold_lower(text) != text.lower()
    if accented:
        head = " ".join(ws[:2])
        if ws[0] in _START_MARKERS or head in _START_MARKERS:
            return fold_lower(ws[0])
        phrase = next((m for m in _MARKERS if _has(folded, m)), None)
        if phrase:
            return phrase
        plain = " " + " ".join(ws) + " "
        for p in _NOT_MARKERS:
            plain = plain.replace(f" {p} ", " ")
        hit = set(plain.split()) & _EXACT_MARKERS
        return fold_lower(sorted(hit)[0]) if hit else None
    return next((m for m in _FOLDED_MARKERS if _has(folded, m)), None)


# -- the decision -----------------------------------------------------------------------------


def _history_words(history: Sequence[Turn]) -> dict[str, float]:
    """Recency-weighted support of each content word of the history (folded keys)."""
    weights: dict[str, float] = {}
    for age, turn in enumerate(reversed(history)):
        w = DECAY ** age
        seen = set(map(fold, content_words(turn.question)))
        seen |= set(map(fold, content_words(turn.answer)[:ANSWER_WORDS]))
        for word in seen:
            weights[word] = weights.get(word, 0.0) + w
    return weights


def is_follow_up(question: str, history: Sequence[Turn], rare: Rare | None = None) -> str:
    """Why ``question`` may depend on ``history``, or "" when it stands alone (no history, or
    it names something the dialogue has not: a capitalised name).

    Firm: "ellipsis" ("Còn X thì sao?"), "marker" (đó, này, ấy, họ, năm trước…), "short" (a
    few content words, none of them new and corpus-rare by ``rare``). Soft: "topic" (it shares
    its words with the history) and "loose" (it shares little): the engine keeps a soft one
    alone when its own question is ranked first by both dense and BM25 in another document.
    """
    if not history:
        return ""
    if ellipsis(question):
        return "ellipsis"
    if marker(question):
        return "marker"
    words_ = content_words(question)
    own = [fold_lower(w) for w in words_]
    past = _history_words(history)
    if any(n not in past for n in _names(question)):
        return ""  # it names something the dialogue has not mentioned: a new topic
    new_rare = rare is not None and any(fold_lower(w) not in past and w not in _GENERIC and rare(w)
                                        for w in words_)
    if len(own) <= SHORT and not new_rare:
        return "short"
    shared = sum(1 for w in own if w in past) / len(own) if own else 0.0
    return "topic" if shared >= SAME_TOPIC else "loose"


def _context_words(question: str, history: Sequence[Turn], cap: int) -> tuple[str, ...]:
    """History words worth carrying into the query: recency-weighted, most supported first,
    not already in the question; a year the question names replaces the history's years."""
    own = {fold_lower(w) for w in content_words(question)}
    has_year = bool(re.search(r"\b\d{4}\b", question))
    support = _history_words(history)
    spelled: dict[str, str] = {}
    order: dict[str, int] = {}
    for turn in reversed(history):
        for w in content_words(turn.question) + content_words(turn.answer)[:ANSWER_WORDS]:
            spelled.setdefault(fold_lower(w), w)
            order.setdefault(fold_lower(w), len(order))
    picked = [f for f, s in support.items() if s >= MIN_WEIGHT and f not in own
              and not (has_year and re.fullmatch(r"\d{4}", f))]
    picked.sort(key=lambda f: (-support[f], order[f]))
    return tuple(spelled[f] for f in picked[:cap])


def _question_word(question: str) -> str:
    folded = _folded_text(question)
    for q in _QWORDS:
        if _has(folded, fold_lower(q)):
            return q
    return ""


def _find(pattern: re.Pattern[str], text: str) -> tuple[int, int] | None:
    """Span of ``pattern`` in ``text`` matched on its folded form."""
    m = pattern.search(fold(text))
    return m.span() if m else None


def _is(pattern: re.Pattern[str], text: str) -> bool:
    return pattern.fullmatch(fold(text)) is not None


def ellipsis(question: str) -> str | None:
    """X of "Còn X thì sao?" / "Còn X?" (a short X without a question word), else None."""
    text = normalize(question).strip()
    m = _ELLIPSIS.match(fold(text))
    if not m:
        return None
    con = text[m.start("con"):m.end("con")].lower()
    if con != "còn" and fold_lower(text) != text.lower():  # "Cơn đau…" is not "Còn…"
        return None
    x = text[m.start("x"):m.end("x")].strip(" ,")
    if not m.group("tail") and (len(words(x)) > 4 or _question_word(x)):
        return None
    return x or None


def _recent(questions: Sequence[str], pattern: re.Pattern[str], turns: int = 3) -> str | None:
    """The most recent of the last ``turns`` questions where ``pattern`` occurs."""
    return next((q for q in reversed(questions[-turns:]) if _find(pattern, q)), None)


def rewrite_ellipsis(question: str, previous: Sequence[str]) -> str | None:
    """ "Còn X thì sao?" read with the earlier questions (oldest first): a year X replaces the
    year of the latest question naming one, a place X its place; any other X is asked with the
    conversation's latest year and place, as a figure when X names a quantity ("sản lượng …")
    and otherwise the way the previous question asked. None if not elliptical."""
    x = ellipsis(question)
    if x is None or not previous:
        return None
    for slot in (_YEAR, _PLACE):
        if _is(slot, x):
            host = _recent(previous, slot)
            if host is not None:
                host = normalize(host).strip()
                a, b = _find(slot, host)  # type: ignore[misc]
                return host[:a] + x + host[b:]
    keep = []
    for slot in (_PLACE, _YEAR):
        host = _recent(previous, slot)
        span = _find(slot, normalize(host)) if host else None
        if span and host and fold_lower(normalize(host)[span[0]:span[1]]) not in fold_lower(x):
            keep.append(normalize(host)[span[0]:span[1]])
    fx = fold_lower(x.lower())
    if any(fx.startswith(fold_lower(q)) for q in _QUANTITY):
        qword = "là bao nhiêu"
    else:
        qword = _question_word(previous[-1]) or "như thế nào"
    return " ".join([x, *keep, qword]).strip() + "?"


def resolve(question: str, history: Sequence[Turn] = (), rare: Rare | None = None,
            max_context: int = MAX_CONTEXT_WORDS) -> Resolved:
    """How ``question`` is understood after ``history`` (oldest first); ``rare`` tells
    corpus-specific words (see :func:`is_follow_up`); see the module doc."""
    question = normalize(question).strip()
    if not history:
        return Resolved(question, question)
    understood = _understood_history(history)
    reason = is_follow_up(question, understood, rare)
    if not reason:
        return Resolved(question, question)
    prefer = tuple(dict.fromkeys(t.doc_id for t in reversed(understood[-2:]) if t.doc_id))
    rewritten = rewrite_ellipsis(question, [t.question for t in understood])
    if rewritten is not None:
        # The rewrite carries the topic; a new year or place may well be in another document.
        x = ellipsis(question) or ""
        moved = _is(_YEAR, x) or _is(_PLACE, x)
        return Resolved(rewritten, rewritten, () if moved else prefer, True, reason)
    context = _context_words(question, understood, max_context)
    query = " ".join([question, *context]) if context else question
    return Resolved(question, query, prefer, True, reason, context)


def _understood_history(history: Sequence[Turn]) -> list[Turn]:
    """The history with each elliptical question replaced by what it meant."""
    out: list[Turn] = []
    for turn in history:
        q = normalize(turn.question).strip()
        if out:
            q = rewrite_ellipsis(q, [t.question for t in out]) or q
        out.append(Turn(q, normalize(turn.answer or "").strip(), turn.doc_id))
    return out


def turn_from(result: QAResult) -> Turn:
    """The history entry a result leaves: its question, top answer text and cited document."""
    top = result.answers[0] if result.answers and not result.no_answer else None
    return Turn(result.question, top.text if top else "", top.citation.doc_id if top else None)


# -- input ------------------------------------------------------------------------------------


def parse_history(obj: object, max_turns: int = MAX_TURNS,
                  max_chars: int = MAX_TURN_CHARS) -> tuple[Turn, ...]:
    """Validate a JSON history: a list of ``{"question": str, "answer"?: str, "doc_id"?: str}``
    (oldest first). :class:`InputError` names the bad entry and the fix."""
    if obj is None:
        return ()
    if isinstance(obj, (list, tuple)) and all(isinstance(t, Turn) for t in obj):
        turns = tuple(obj)
    elif not isinstance(obj, list):
        raise InputError(f"history must be a list of {{\"question\", \"answer\"}} objects, "
                         f"oldest first; got {type(obj).__name__}")
    else:
        turns = tuple(_turn(item, i) for i, item in enumerate(obj))
    if len(turns) > max_turns:
        raise InputError(f"history has {len(turns)} turns; the limit is {max_turns}: send "
                         "only the latest ones")
    for i, t in enumerate(turns):
        size = len(t.question) + len(t.answer)
        if size > max_chars:
            raise InputError(f"history[{i}] has {size} characters; the limit is {max_chars} "
                             "per turn: shorten its answer")
    return turns


def _turn(item: object, i: int) -> Turn:
    where = f"history[{i}]"
    if not isinstance(item, dict):
        raise InputError(f"{where} must be an object {{\"question\": …, \"answer\": …}}, "
                         f"got {type(item).__name__}")
    extra = sorted(set(item) - {"question", "answer", "doc_id"})
    if extra:
        raise InputError(f"{where} has unknown field(s) {', '.join(extra)}; allowed: "
                         "question, answer, doc_id")
    question, answer, doc_id = item.get("question"), item.get("answer", ""), item.get("doc_id")
    if not isinstance(question, str) or not question.strip():
        raise InputError(f"{where}.question must be a non-empty string, got {question!r}")
    if answer is None:
        answer = ""
    if not isinstance(answer, str):
        raise InputError(f"{where}.answer must be a string (empty when there was no answer), "
                         f"got {type(answer).__name__}")
    if doc_id is not None and not isinstance(doc_id, str):
        raise InputError(f"{where}.doc_id must be a document id string or null, got {doc_id!r}")
    return Turn(normalize(question).strip(), normalize(answer).strip(), doc_id or None)
