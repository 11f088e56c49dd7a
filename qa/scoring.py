"""Small pure scoring functions of the heuristic reader (lists/arrays in, numbers out)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np

from qa.qtype import QuestionInfo
from qa.spans import Candidate

# Weights of the final logistic; see ``answer_logit``. Hand-set, then checked on the seeds
# and XQuAD-vi (docs in the report of the reader commit).
SENTENCE_WEIGHTS = {"lex": 3.0, "bigram": 1.2, "emb": 1.6, "rank": 0.4, "typed": 0.8,
                    "scope": 1.2, "about": 1.0}
SPAN_WEIGHTS = {"fit": 1.6, "prox": 1.6, "head": 0.5}
BIAS_SHORT = -4.2
BIAS_SENTENCE = -3.0
PLAN_WORDS = ("phấn đấu", "mục tiêu", "tối thiểu", "dự kiến", "kế hoạch", "chỉ tiêu giao")
RATIO_WORDS = ("kế hoạch", "dự toán", "so với", "cùng kỳ", "kh", "chỉ tiêu")


def logistic(x: float) -> float:
    """1 / (1 + e^-x), safe for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def idf_weights(terms: Sequence[str], docs: Sequence[set[str]]) -> dict[str, float]:
    """Smoothed IDF of each term over ``docs`` (the sentences being read): log((N+1)/(df+.5))."""
    n = len(docs)
    return {t: math.log((n + 1) / (sum(t in d for d in docs) + 0.5)) + 0.1 for t in set(terms)}


TIME_WORDS = frozenset({"năm", "tháng", "ngày", "quý", "tuần", "đầu", "cuối", "giữa", "nay",
                        "nam", "thang", "ngay", "quy", "tuan", "dau", "cuoi", "giua"})


def time_terms(words: Sequence[str]) -> set[str]:
    """Question words that only date the question ("9 tháng đầu năm 2020", "10/11/2023").

    Reports state such scope once per paragraph, not next to each figure, so these words
    should weigh less.
    """
    out: set[str] = set()
    for i, word in enumerate(words):
        nxt = words[i + 1] if i + 1 < len(words) else ""
        prev = words[i - 1] if i else ""
        year = word.isdigit() and 1900 <= int(word) <= 2100
        counted = word.isdigit() and nxt in TIME_WORDS
        dated = "/" in word and prev in {"ngày", "ngay", "tháng", "thang"}
        if word in TIME_WORDS or year or counted or dated:
            out.add(word)
    return out


def scale_terms(weights: Mapping[str, float], terms: set[str], factor: float) -> dict[str, float]:
    """A copy of ``weights`` with ``terms`` multiplied by ``factor``."""
    return {t: w * factor if t in terms else w for t, w in weights.items()}


def lexical_overlap(terms: Sequence[str], folded_terms: Sequence[str], weights: Mapping[str, float],
                    words: set[str], folded_words: set[str], folded_weight: float = 0.5,
                    pairs: frozenset[tuple[str, str]] | set[tuple[str, str]] = frozenset(),
                    sentence_pairs: set[tuple[str, str]] | None = None,
                    lone_weight: float = 0.5) -> float:
    """IDF-weighted share of question terms found in a sentence; folded matches count less.

    With ``pairs`` (the question's adjacent content words) and ``sentence_pairs``, a term of a
    question compound that the sentence has only outside that compound ("tác" of "hợp tác"
    in "công tác") counts ``lone_weight``.
    """
    total = sum(weights[t] for t in terms)
    if total <= 0:
        return 0.0
    got = 0.0
    for term, folded in zip(terms, folded_terms, strict=False):
        if term in words:
            gain = weights[term]
        elif folded in folded_words:
            gain = folded_weight * weights[term]
        else:
            continue
        mine = {p for p in pairs if term in p}
        if mine and sentence_pairs is not None and not mine & sentence_pairs:
            gain *= lone_weight
        got += gain
    return got / total


def bigrams(words: Sequence[str]) -> set[tuple[str, str]]:
    """Adjacent word pairs."""
    return set(zip(words, words[1:], strict=False))


def bigram_overlap(question: set[tuple[str, str]], sentence: set[tuple[str, str]]) -> float:
    """Share of the question's bigrams that occur in the sentence."""
    return len(question & sentence) / len(question) if question else 0.0


def cosine_rows(query: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Cosine similarity of one vector with each row."""
    q = query / (np.linalg.norm(query) + 1e-12)
    r = rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-12)
    return row_dots(r, q)


def row_dots(matrix: np.ndarray, vec: np.ndarray) -> np.ndarray:
    """``matrix @ vec`` on one thread. A threaded BLAS call leaves OpenBLAS's idle threads
    busy-waiting on both cores for ~0.1 s, which slows the ONNX encoder that runs next (ask
    p50 at 105k chunks in 9 segments: 151 ms with ``@``, 90 ms this way; bench/ask_latency.py)."""
    return np.einsum("ij,j->i", matrix, vec)


def embedding_feature(cos: float) -> float:
    """Map an e5 cosine (unrelated ~0.75, close ~0.9) to [-1, 1]."""
    return max(-1.0, min(1.0, (cos - 0.8) / 0.08))


def rank_feature(scores: Sequence[float]) -> list[float]:
    """1 / (1 + dense rank) of each retrieval score (ties share a rank)."""
    order = sorted(set(scores), reverse=True)
    return [1.0 / (1.0 + order.index(s)) for s in scores]


def sentence_logit(lex: float, bigram: float, emb: float | None, rank: float,
                   typed: float, scope: float = 0.0, about: float = 0.0) -> float:
    """Linear score of a sentence from its features (all roughly in [0, 1])."""
    w = SENTENCE_WEIGHTS
    score = (w["lex"] * lex + w["bigram"] * bigram + w["rank"] * rank + w["typed"] * typed
             + w["scope"] * scope + w["about"] * about)
    return score + (w["emb"] * emb if emb is not None else 0.0)


_YEAR_MENTION_RE = re.compile(
    r"(?<![\d/.,])((?:19|20)\d\d)(?:\s*[-–]\s*((?:19|20)\d\d))?(?![\d/.,])")
_COMPARISON_RE = re.compile(r"(so với|bằng|hơn|cùng kỳ)(\s+\w+){0,2}\s*$", re.IGNORECASE)


def has_name(name: str, text: str) -> bool:
    """True when ``name`` occurs in ``text`` as whole words."""
    return re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text) is not None


def name_scope(names: Sequence[str], sentence: str, context: str,
               in_document: set[str]) -> float:
    """Whether the sentence is about the question's place names (texts folded), in [-1, 1];
    0 without names. Per name: in the sentence 1, in the title or just before 0.6, elsewhere
    in the document (``in_document``) 0.3, absent -1."""
    if not names:
        return 0.0

    def score(name: str) -> float:
        if has_name(name, sentence):
            return 1.0
        if has_name(name, context):
            return 0.6
        return 0.3 if name in in_document else -1.0

    return sum(score(n) for n in names) / len(names)


def year_mentions(text: str) -> list[tuple[int, int]]:
    """Years or year ranges ("2020 – 2025") that date what ``text`` says, in order; years
    compared against ("so với năm 2019") are left out."""
    out: list[tuple[int, int]] = []
    for m in _YEAR_MENTION_RE.finditer(text):
        if _COMPARISON_RE.search(text[max(0, m.start() - 25):m.start()]):
            continue
        first = int(m.group(1))
        out.append((first, int(m.group(2)) if m.group(2) else first))
    return out


def year_scope(years: set[str], sentence: str, context: str) -> float:
    """How well a sentence is dated to the question's years, in [-0.6, 1]; 0 without years.

    Per year: 1 when the sentence names it; -0.6 when the sentence names only other years;
    else by the last year named before it (``context``): 0.6 when it matches, -0.6 when
    it does not, 0 when none is named.
    """
    if not years:
        return 0.0

    def score(year: int) -> float:
        own = year_mentions(sentence)
        if own:
            return 1.0 if any(a <= year <= b for a, b in own) else -0.6
        before = year_mentions(context)
        if not before:
            return 0.0
        a, b = before[-1]
        return 0.6 if a <= year <= b else -0.6

    return sum(score(int(y)) for y in years) / len(years)


def type_fit(info: QuestionInfo, cand: Candidate) -> float:
    """How well a candidate's kind fits the expected answer type, in [0, 1]."""
    table = _FIT.get(info.qtype, {})
    fit = table.get(cand.kind, 0.0)
    if info.qtype == "number" and info.ordinal:
        fit = 1.0 if cand.kind == "ordinal" else 0.2 * fit
    elif info.qtype == "number":
        fit = _number_fit(info, cand, fit)
    elif info.qtype == "duration":
        fit = 1.0 if cand.kind == "number" and cand.unit.split(" ")[-1:] and any(
            u in cand.unit for u in ("nam", "thang", "ngay", "gio", "phut", "tuan")) else fit
    elif info.qtype == "date":
        fit = _DATE_FIT.get(info.grain or "any", {}).get(cand.kind, 0.0)
    elif info.qtype == "definition" and cand.kind == "role" and info.head == ("chuc", "vu"):
        fit = 1.0
    elif info.qtype == "entity" and info.head and cand.unit == " ".join(info.head):
        fit = 1.0  # "trường đại học nào" -> "Đại học ...", "nghị quyết nào" -> "Nghị quyết 77-…"
    elif info.qtype in {"place", "list"} and info.head and cand.unit:
        fit = min(1.0, fit + (0.2 if cand.unit.split(" ")[0] == info.head[0] else -0.1))
    return fit


_FOLDED_TIME_UNITS = frozenset({"giay", "phut", "gio", "ngay", "tuan", "thang", "nam", "ky"})


def _number_fit(info: QuestionInfo, cand: Candidate, fit: float) -> float:
    """Type fit of a figure for a "bao nhiêu" question (percent, money, head noun)."""
    if cand.kind == "percent":
        return 1.0 if info.percent else 0.45
    if info.percent and cand.kind == "number":
        return 0.35
    if cand.kind != "number":
        return fit
    if cand.head_match:
        return 1.0
    money = any(u in cand.unit for u in ("dong", "usd", "euro"))
    if info.money:
        return 1.0 if money else 0.6
    if cand.unit.split(" ")[-1:] and cand.unit.split(" ")[-1] in _FOLDED_TIME_UNITS:
        return 0.3  # "90 năm", "6 tháng": a duration, not the count asked
    if info.head and cand.unit:
        return 0.3  # a figure of something else than the head noun asked
    return 0.8 if not info.head else 0.5


_FIT: dict[str, dict[str, float]] = {
    "number": {"number": 0.8, "percent": 0.5, "year": 0.25, "date": 0.1, "month": 0.1},
    "duration": {"number": 0.5, "year": 0.1},
    "person": {"person": 1.0, "name": 0.55, "place": 0.15, "list": 0.3},
    "place": {"place": 1.0, "name": 0.6, "list": 0.6, "person": 0.2},
    "list": {"list": 1.0, "place": 0.55, "name": 0.45, "person": 0.45},
    "definition": {"predicate": 0.75, "quote": 0.8, "role": 0.5, "code": 0.4},
    "entity": {"name": 0.8, "person": 0.7, "place": 0.7, "list": 0.6, "number": 0.3,
               "code": 0.9, "quote": 0.5},
}
_DATE_FIT: dict[str, dict[str, float]] = {
    "day": {"date": 1.0, "month": 0.5, "year": 0.4},
    "month": {"month": 1.0, "date": 0.8, "year": 0.3},
    "year": {"year": 1.0, "date": 0.7, "month": 0.7},
    "any": {"date": 1.0, "month": 0.9, "year": 0.8},
}


def proximity(positions: Mapping[str, Sequence[float]], weights: Mapping[str, float],
              span: tuple[float, float], right_cost: float = 1.6, scale: float = 4.0) -> float:
    """Weighted closeness of question terms to a span, in [0, 1].

    ``positions`` gives each matched term's token positions (already stretched across clause
    breaks); terms to the right cost ``right_cost`` times more distance (Vietnamese states the
    subject before the figure).
    """
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    got = 0.0
    for term, places in positions.items():
        dists = [span[0] - p if p < span[0] else right_cost * (p - span[1] + 1)
                 for p in places if not span[0] <= p < span[1]]
        if dists:
            got += weights.get(term, 0.0) / (1.0 + min(dists) / scale)
    return got / total


def answer_logit(sentence: float, fit: float, evidence: float, prox: float, head: bool,
                 penalty: float) -> float:
    """Linear score of a short answer: its sentence plus span evidence, minus penalties."""
    w = SPAN_WEIGHTS
    return (sentence + w["fit"] * fit * evidence + w["prox"] * prox + w["head"] * head
            - penalty + BIAS_SHORT)
