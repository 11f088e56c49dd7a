"""Extractive readers: passages in, verbatim cited answers out.

:class:`Reader` is the interface the engine uses; :class:`HeuristicReader` fills it without
any QA model: it ranks the sentences of the top passages (lexical overlap with IDF from the
passages, folded matches, bigrams, optional embedding similarity, retrieval rank, presence of
a span of the expected type), then picks the short span the question asks for (figure with
unit, name, date, place, list) or returns the sentence. Scores are logistic, in [0, 1].
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from index.types import Document
from qa import scoring
from qa.qtype import QuestionInfo, classify
from qa.segment import (
    Token,
    clause_spans,
    fold,
    has_diacritics,
    nfc,
    paragraph_breaks,
    sentence_spans,
    tokenize,
)
from qa.spans import Candidate, extract, predicate_candidates
from qa.types import Answer, Citation, Passage

DEFAULT_NO_ANSWER_THRESHOLD = 0.35
TIME_TERM_FACTOR = 0.35
SUBITEM_PENALTY = 0.4
Embed = Callable[[Sequence[str]], np.ndarray]

_QUESTION_STOP = frozenset(
    [
        "bao", "nhiêu", "mấy", "ai", "nào", "gì", "đâu", "sao", "thế", "nào", "khi", "là", "có",
        "của", "được", "đã", "và", "các", "những", "trong", "với", "cho", "về", "tại", "ở", "thì",
        "mà", "này", "đó", "không", "hay", "hoặc", "vậy", "nhỉ", "ạ", "hả", "chưa", "bị", "do",
        "như"
    ])
_QUESTION_STOP_FOLDED = frozenset(fold(w) for w in _QUESTION_STOP) - {"dang", "nam"}
_EN_STOP = frozenset(
    [
        "the", "a", "an", "of", "in", "on", "at", "to", "for", "from", "by", "with", "is", "was",
        "were", "are", "be", "been", "did", "do", "does", "what", "who", "whom", "whose", "which",
        "when", "where", "why", "how", "many", "much", "and", "or", "as", "that", "this", "it",
        "its", "into", "than"
    ])
_GAP_COST = {";": 6.0, ":": 3.0, "(": 2.0, ")": 2.0, ",": 1.5, "–": 2.0, "-": 0.5}


class Reader(Protocol):
    """Anything that turns passages into ranked, cited answers (best first, score in [0, 1])."""

    def read(self, question: str, passages: Sequence[Passage],
             documents: Mapping[str, Document]) -> list[Answer]: ...


def is_no_answer(answers: Sequence[Answer], threshold: float) -> bool:
    """True when there is no answer or the best one scores below ``threshold``."""
    return not answers or max(a.score for a in answers) < threshold


@dataclass(frozen=True)
class QuestionTerms:
    """Content words of a question, their folded forms, and whether to match folded only."""

    terms: tuple[str, ...]
    folded: tuple[str, ...]
    fold_only: bool
    bigrams: frozenset[tuple[str, str]]


@dataclass
class _Sentence:
    """One sentence of one passage with its features (offsets relative to the passage)."""

    passage: Passage
    rank: float
    start: int
    end: int
    tokens: list[Token]
    words: set[str] = field(default_factory=set)
    folded: set[str] = field(default_factory=set)
    logit: float = 0.0


def question_terms(question: str, info: QuestionInfo) -> QuestionTerms:
    """Content tokens of the question (question words and particles removed)."""
    fold_only = info.english or not has_diacritics(question)
    stop = _EN_STOP | _QUESTION_STOP_FOLDED if fold_only else _QUESTION_STOP
    words = [t.norm for t in tokenize(question)]
    words = [fold(w) for w in words] if fold_only else words
    content = [w for w in words if w not in stop]
    return QuestionTerms(tuple(content), tuple(fold(w) for w in content), fold_only,
                         frozenset(scoring.bigrams(content)))


def stretched_positions(text: str, tokens: Sequence[Token]) -> list[float]:
    """Token positions where clause punctuation between tokens adds distance."""
    out: list[float] = []
    pos = 0.0
    prev_end = tokens[0].start if tokens else 0
    for tok in tokens:
        gap = text[prev_end:tok.start]
        pos += 1.0 + sum(_GAP_COST.get(c, 0.0) for c in gap)
        out.append(pos)
        prev_end = tok.end
    return out


class HeuristicReader:
    """A model-free extractive reader (see the module docstring)."""

    def __init__(self, embed_queries: Embed | None = None, embed_passages: Embed | None = None,
                 top_n: int = 3, max_passages: int | None = 8, top_sentences: int = 4) -> None:
        self.embed_queries = embed_queries
        self.embed_passages = embed_passages
        self.top_n = top_n
        self.max_passages = max_passages
        self.top_sentences = top_sentences

    def read(self, question: str, passages: Sequence[Passage],
             documents: Mapping[str, Document]) -> list[Answer]:
        """Answers best first; each is a verbatim, validated span of its document."""
        question = nfc(question).strip()
        prepared = self._prepare(question, passages)
        if prepared is None:
            return []
        info, terms, weights, sentences = prepared
        best = sorted(sentences, key=lambda s: -s.logit)[: self.top_sentences]
        scored: list[tuple[float, Passage, int, int]] = []
        for sent in best:
            scored.extend(self._sentence_answers(question, info, terms, weights, sent))
        return self._finish(scored, documents)

    def _prepare(self, question: str, passages: Sequence[Passage]
                 ) -> tuple[QuestionInfo, QuestionTerms, dict[str, float], list[_Sentence]] | None:
        """Question analysis, term weights and scored sentences (None when nothing to read)."""
        info = classify(question)
        ranked = sorted(passages, key=lambda p: -p.score)[: self.max_passages]
        sentences = self._sentences(ranked)
        if not question or not sentences:
            return None
        terms = question_terms(question, info)
        key = terms.folded if terms.fold_only else terms.terms
        weights = scoring.idf_weights(key, [s.folded if terms.fold_only else s.words
                                            for s in sentences])
        weights = scoring.scale_terms(weights, scoring.time_terms(key), TIME_TERM_FACTOR)
        self._score_sentences(question, info, terms, weights, sentences)
        return info, terms, weights, sentences

    # -- sentences -------------------------------------------------------------------------
    def _sentences(self, passages: Sequence[Passage]) -> list[_Sentence]:
        """Every sentence of the passages with its tokens and word sets."""
        ranks = scoring.rank_feature([p.score for p in passages])
        out: list[_Sentence] = []
        for passage, rank in zip(passages, ranks, strict=False):
            units = [c for a, b in sentence_spans(passage.text)
                     for c in clause_spans(passage.text, a, b)]
            for start, end in units:
                toks = tokenize(passage.text[start:end])
                if toks:
                    out.append(_Sentence(passage, rank, start, end, toks,
                                         {t.norm for t in toks}, {fold(t.norm) for t in toks}))
        return out

    def _score_sentences(self, question: str, info: QuestionInfo, terms: QuestionTerms,
                         weights: Mapping[str, float], sentences: list[_Sentence]) -> None:
        """Set each sentence's logit from lexical, bigram, embedding, rank and type features."""
        key = terms.folded if terms.fold_only else terms.terms
        embs = self._embedding_features(question, sentences)
        for i, sent in enumerate(sentences):
            words = sent.folded if terms.fold_only else sent.words
            lex = scoring.lexical_overlap(key, terms.folded, weights, words, sent.folded)
            seq = [fold(t.norm) if terms.fold_only else t.norm for t in sent.tokens]
            bigram = scoring.bigram_overlap(set(terms.bigrams), scoring.bigrams(seq))
            typed = (self._typed_feature(question, info, sent)
                     if info.short and info.qtype != "definition" else 0.0)
            sent.logit = scoring.sentence_logit(lex, bigram, embs[i] if embs else None,
                                                sent.rank, typed)

    def _embedding_features(self, question: str, sentences: list[_Sentence]) -> list[float]:
        """Embedding feature of each sentence, or [] without embedding functions."""
        if self.embed_queries is None or self.embed_passages is None:
            return []
        query = np.asarray(self.embed_queries([question]), dtype=np.float32)[0]
        texts = [s.passage.text[s.start:s.end] for s in sentences]
        rows = np.asarray(self.embed_passages(texts), dtype=np.float32)
        return [scoring.embedding_feature(float(c)) for c in scoring.cosine_rows(query, rows)]

    def _typed_feature(self, question: str, info: QuestionInfo, sent: _Sentence) -> float:
        """Best fit x evidence of a candidate of the expected type in the sentence."""
        text = sent.passage.text[sent.start:sent.end]
        fits = [scoring.type_fit(info, c) * c.evidence for c in _candidates(text, info)
                if not _in_question(text, c, question)]
        return max(fits, default=0.0)

    # -- spans -----------------------------------------------------------------------------
    def _sentence_answers(self, question: str, info: QuestionInfo, terms: QuestionTerms,
                          weights: Mapping[str, float], sent: _Sentence
                          ) -> list[tuple[float, Passage, int, int]]:
        """Scored (logit, passage, start, end) answers of one sentence, offsets in the passage."""
        base = sent.start
        out = [(sent.logit + scoring.BIAS_SENTENCE - (1.0 if info.short else 0.0),
                sent.passage, sent.start, sent.end)]
        if not info.short:
            return out
        text = sent.passage.text[sent.start:sent.end]
        positions = stretched_positions(text, sent.tokens)
        term_pos = _term_positions(terms, weights, sent.tokens, positions)
        for cand in _candidates(text, info):
            fit = scoring.type_fit(info, cand)
            if fit <= 0.0:
                continue
            span = _token_span(sent.tokens, positions, cand)
            prox = scoring.proximity(term_pos, {t: weights[t] for t in weights}, span)
            logit = scoring.answer_logit(sent.logit, fit, cand.evidence, prox, cand.head_match,
                                         _penalty(text, cand, question))
            out.append((logit, sent.passage, base + cand.start, base + cand.end))
        return out

    def _finish(self, scored: list[tuple[float, Passage, int, int]],
                documents: Mapping[str, Document]) -> list[Answer]:
        """Best-first, non-overlapping, validated answers (at most ``top_n``)."""
        answers: list[Answer] = []
        taken: list[tuple[str, int, int]] = []
        for logit, passage, start, end in sorted(scored, key=lambda x: -x[0]):
            a_start, a_end = passage.start + start, passage.start + end
            if any(d == passage.doc_id and a_start < e and s < a_end for d, s, e in taken):
                continue
            answer = _make_answer(passage, start, end, scoring.logistic(logit), documents)
            if answer is not None:
                answers.append(answer)
                taken.append((passage.doc_id, a_start, a_end))
            if len(answers) >= self.top_n:
                break
        return answers


def _candidates(text: str, info: QuestionInfo) -> list[Candidate]:
    """Candidate spans of a sentence for this kind of question."""
    if info.qtype == "definition":
        return predicate_candidates(text)
    return extract(text, info.head)


def _term_positions(terms: QuestionTerms, weights: Mapping[str, float], tokens: Sequence[Token],
                    positions: Sequence[float]) -> dict[str, list[float]]:
    """Stretched positions of each question term in a sentence (folded matches included)."""
    key = terms.folded if terms.fold_only else terms.terms
    wanted = dict(zip(terms.folded, key, strict=False))
    out: dict[str, list[float]] = {}
    for tok, pos in zip(tokens, positions, strict=False):
        term = tok.norm if tok.norm in weights and not terms.fold_only else wanted.get(
            fold(tok.norm))
        if term is not None:
            out.setdefault(term, []).append(pos)
    return out


def _token_span(tokens: Sequence[Token], positions: Sequence[float],
                cand: Candidate) -> tuple[float, float]:
    """Stretched token positions ``[first, last + 1)`` covered by a candidate."""
    inside = [p for t, p in zip(tokens, positions, strict=False)
              if t.start < cand.end and cand.start < t.end]
    if not inside:
        return (0.0, 0.0)
    return (inside[0], inside[-1] + 1.0)


def _in_question(text: str, cand: Candidate, question: str) -> bool:
    """True when the candidate's figure or name already appears in the question."""
    core = fold(text[cand.core_start:cand.core_end]).strip()
    q = " " + " ".join(re.findall(r"[\w.,/%]+", fold(question))) + " "
    return bool(core) and f" {core} " in q.replace("?", " ")


def _penalty(text: str, cand: Candidate, question: str) -> float:
    """Penalties: figure/name already in the question; a percent of plan when not asked."""
    penalty = 2.5 if _in_question(text, cand, question) else 0.0
    before = text[max(0, cand.start - 60):cand.start].lower()
    if re.match(r"\W*trong (số )?đó\b", text.lower()) and "trong đó" not in question.lower():
        penalty += SUBITEM_PENALTY  # "X đạt A; trong đó Y đạt B": B is a part, not X
    if any(w in before and w not in question.lower() for w in scoring.PLAN_WORDS):
        penalty += 0.7
    if cand.kind == "percent":
        after = text[cand.end:cand.end + 15].lower().lstrip()
        q = question.lower()
        if any(after.startswith(w) and w not in q for w in scoring.RATIO_WORDS):
            penalty += 0.8
    if cand.kind in {"name", "person", "place", "list"}:
        words = [fold(w) for w in text[cand.start:cand.end].split()]
        qwords = set(fold(question).split())
        if words and sum(w in qwords for w in words) / len(words) >= 0.5:
            penalty += 1.5
    return penalty


def _make_answer(passage: Passage, start: int, end: int, score: float,
                 documents: Mapping[str, Document]) -> Answer | None:
    """An :class:`Answer` for ``passage.text[start:end]``, or None if it is not verbatim."""
    doc = documents.get(passage.doc_id)
    text = passage.text[start:end]
    a_start, a_end = passage.start + start, passage.start + end
    if doc is None or not text.strip() or doc.text[a_start:a_end] != text:
        return None
    citation = Citation(doc_id=passage.doc_id, title=passage.title, date=passage.date,
                        source=passage.source,
                        paragraph=passage.paragraph + paragraph_breaks(passage.text, start),
                        start=a_start, end=a_end)
    return Answer(text=text, score=float(min(1.0, max(0.0, score))), citation=citation,
                  passage_text=passage.text, passage_start=passage.start,
                  passage_end=passage.end)
