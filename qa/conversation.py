"""Conversation-aware questions: a small pure resolver of (question, history).

A follow-up ("Còn năm 2021 thì sao?", "Đạt bao nhiêu phần trăm dự toán?", "Ai chủ trì buổi
làm việc đó?") is answered from the dialogue without any language model:

* :func:`is_follow_up` decides whether a turn depends on the earlier ones: it has a dependent
  marker (đó, này, ấy, họ, "còn … thì sao", "năm trước", …), or few content words, or it shares
  its topic words with the history. A question that brings its own topic (a name or enough
  content words that the history does not have) is left alone.
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
from qa.segment import fold, nfc

MAX_TURNS = 20  # history turns accepted per question
MAX_TURN_CHARS = 4000  # characters of one turn's question + answer
MAX_CONTEXT_WORDS = 16  # words carried from the history into the retrieval query
ANSWER_WORDS = 8  # content words taken from one previous answer
DECAY = 0.5  # weight of a turn relative to the one after it
MIN_WEIGHT = 0.25  # a carried word needs at least this much (recency-weighted) support
SHORT = 5  # a question with at most this many content words (syllables) is elliptical
OWN_TOPIC = 7  # content words that make a question self-contained when new to the history
SAME_TOPIC = 0.3  # share of content words found in the history that keeps the topic
RARE_SHARE = 0.02  # a word in at most this share of the corpus's chunks names a topic

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
    ``reason``: why it is a follow-up ("marker", "ellipsis", "short", "topic") or "".
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

_WORD_RE = re.compile(r"\d+(?:[.,/]\d+)*%?|\w+", re.UNICODE)

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
_STOP_FOLDED = frozenset(fold(w) for w in _STOP)
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

_ELLIPSIS = re.compile(
    r"^(?:(?:vậy|thế|và|vay|the|va)\s+)?(?:còn|con)\s+(?P<x>.+?)\s*,?\s*(?P<tail>"
    r"(?:thì|thi)\s+(?:sao|thế nào|như thế nào|ra sao|the nao|nhu the nao|ra sao)|"
    r"(?:thế nào|như thế nào|ra sao|nữa|the nao|nhu the nao)|)\s*[?.!]*$", re.IGNORECASE)
_YEAR = re.compile(r"\b(?:năm|nam)\s+\d{4}\b", re.IGNORECASE)
_PLACE = re.compile(r"\b(?:huyện|xã|tỉnh|thành phố|thị xã|thị trấn|phường|quận|"
                    r"huyen|xa|tinh|thanh pho|thi xa|thi tran|phuong|quan)"
                    r"(?:\s+[A-ZĐÀ-Ỹ][\wÀ-ỹ]*)+")
_QWORDS = ("bao nhiêu", "mấy", "là ai", "ai", "là gì", "gì", "nào", "ở đâu", "tại đâu", "đâu",
           "khi nào", "bao giờ", "như thế nào", "thế nào", "ra sao", "vì sao", "tại sao")


def words(text: str) -> list[str]:
    """Words and numbers of ``text`` (NFC, tone placement), case kept."""
    return _WORD_RE.findall(nfc(text))


def _folded_text(text: str) -> str:
    return " " + " ".join(fold(w) for w in words(text)) + " "


def content_words(text: str) -> list[str]:
    """The content words of ``text``, lowercased NFC, in order, without function words or
    question phrases."""
    ws = words(text)
    accented = any(fold(w) != w.lower() for w in ws)
    key = (lambda w: w.lower()) if accented else (lambda w: fold(w))
    stop = _STOP if accented else _STOP_FOLDED
    keys = [key(w) for w in ws]
    drop = set()
    for pair in _STOP_PAIRS:
        p = pair.split() if accented else fold(pair).split()
        for i in range(len(keys) - 1):
            if keys[i:i + 2] == p or keys[i:i + 3] == p:
                drop.update(range(i, i + len(p)))
    return [w.lower() for i, (w, k) in enumerate(zip(ws, keys, strict=True))
            if i not in drop and k not in stop and (len(k) > 1 or k.isdigit())]


def _names(text: str) -> list[str]:
    """Capitalised words after the first one (proper nouns, acronyms), folded."""
    return [fold(w) for w in words(text)[1:] if w[:1].isupper()]


def _has(folded: str, phrase: str) -> bool:
    return f" {phrase} " in folded


def marker(question: str) -> str | None:
    """The dependent marker of ``question`` (folded), or None."""
    text = nfc(question)
    ws = [w.lower() for w in words(text)]
    if not ws:
        return None
    folded = _folded_text(text)
    accented = fold(text) != text.lower()
    if accented:
        head = " ".join(ws[:2])
        if ws[0] in _START_MARKERS or head in _START_MARKERS:
            return fold(ws[0])
        phrase = next((m for m in _MARKERS if _has(folded, m)), None)
        if phrase:
            return phrase
        plain = " " + " ".join(ws) + " "
        for p in _NOT_MARKERS:
            plain = plain.replace(f" {p} ", " ")
        hit = set(plain.split()) & _EXACT_MARKERS
        return fold(sorted(hit)[0]) if hit else None
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
    """Why ``question`` depends on ``history`` ("marker", "ellipsis", "short", "topic"), or ""
    when it stands alone: no history, or it brings its own topic (a name, or with ``rare``
    a corpus-rare word, that the history does not have)."""
    if not history:
        return ""
    if ellipsis(question):
        return "ellipsis"
    if marker(question):
        return "marker"
    own = [fold(w) for w in content_words(question)]
    past = _history_words(history)
    if any(n not in past for n in _names(question)):
        return ""  # it names something the dialogue has not mentioned: a new topic
    if rare is not None and any(fold(w) not in past and rare(w)
                                for w in content_words(question)):
        return ""  # a word specific to a few passages, new to the dialogue
    if len(own) <= SHORT:
        return "short"
    shared = sum(1 for w in own if w in past) / len(own)
    if shared >= SAME_TOPIC or len(own) < OWN_TOPIC:
        return "topic"
    return ""


def _context_words(question: str, history: Sequence[Turn], cap: int) -> tuple[str, ...]:
    """History words worth carrying into the query: recency-weighted, most supported first,
    not already in the question; a year the question names replaces the history's years."""
    own = {fold(w) for w in content_words(question)}
    has_year = bool(re.search(r"\b\d{4}\b", question))
    support = _history_words(history)
    spelled: dict[str, str] = {}
    order: dict[str, int] = {}
    for turn in reversed(history):
        for w in content_words(turn.question) + content_words(turn.answer)[:ANSWER_WORDS]:
            spelled.setdefault(fold(w), w)
            order.setdefault(fold(w), len(order))
    picked = [f for f, s in support.items() if s >= MIN_WEIGHT and f not in own
              and not (has_year and re.fullmatch(r"\d{4}", f))]
    picked.sort(key=lambda f: (-support[f], order[f]))
    return tuple(spelled[f] for f in picked[:cap])


def _question_word(question: str) -> str:
    folded = _folded_text(question)
    for q in _QWORDS:
        if _has(folded, fold(q)):
            return q
    return ""


def ellipsis(question: str) -> str | None:
    """X of "Còn X thì sao?" / "Còn X?" (a short X without a question word), else None."""
    m = _ELLIPSIS.match(nfc(question).strip())
    if not m:
        return None
    x = m.group("x").strip(" ,")
    if not m.group("tail") and (len(words(x)) > 4 or _question_word(x)):
        return None
    return x or None


def rewrite_ellipsis(question: str, previous: str) -> str | None:
    """ "Còn X thì sao?" read as ``previous`` with X put in: a year replaces its year, a place
    its place; other X take the previous question's subject words. None if not elliptical."""
    x = ellipsis(question)
    if x is None:
        return None
    prev = nfc(previous).strip()
    if _YEAR.fullmatch(x) and _YEAR.search(prev):
        return _YEAR.sub(x, prev, count=1)
    if _PLACE.fullmatch(x) and _PLACE.search(prev):
        return _PLACE.sub(x, prev, count=1)
    keep = [w for w in _YEAR.findall(prev) + _PLACE.findall(prev) if fold(w) not in fold(x)]
    qword = _question_word(prev) or "thế nào"
    return " ".join([x, *keep, qword]).strip() + "?"


def resolve(question: str, history: Sequence[Turn] = (), rare: Rare | None = None,
            max_context: int = MAX_CONTEXT_WORDS) -> Resolved:
    """How ``question`` is understood after ``history`` (oldest first); ``rare`` tells
    corpus-specific words (see :func:`is_follow_up`); see the module doc."""
    question = nfc(question).strip()
    if not history:
        return Resolved(question, question)
    understood = _understood_history(history)
    reason = is_follow_up(question, understood, rare)
    if not reason:
        return Resolved(question, question)
    prefer = tuple(dict.fromkeys(t.doc_id for t in reversed(understood[-2:]) if t.doc_id))
    rewritten = rewrite_ellipsis(question, understood[-1].question)
    if rewritten is not None:
        # The rewrite carries the topic; a new year or place may well be in another document.
        x = ellipsis(question) or ""
        moved = bool(_YEAR.fullmatch(x) or _PLACE.fullmatch(x))
        return Resolved(rewritten, rewritten, () if moved else prefer, True, reason)
    context = _context_words(question, understood, max_context)
    query = " ".join([question, *context]) if context else question
    return Resolved(question, query, prefer, True, reason, context)


def _understood_history(history: Sequence[Turn]) -> list[Turn]:
    """The history with each elliptical question replaced by what it meant."""
    out: list[Turn] = []
    for turn in history:
        q = nfc(turn.question).strip()
        if out:
            q = rewrite_ellipsis(q, out[-1].question) or q
        out.append(Turn(q, nfc(turn.answer or "").strip(), turn.doc_id))
    return out


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
    return Turn(nfc(question).strip(), nfc(answer).strip(), doc_id or None)
