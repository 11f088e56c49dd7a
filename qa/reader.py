"""Extractive readers: passages in, verbatim cited answers out.

:class:`Reader` is the interface the engine uses; :class:`HeuristicReader` fills it without
any QA model: it ranks the sentences of the top passages (lexical overlap with IDF from the
passages, folded matches, bigrams, optional embedding similarity, retrieval rank, presence of
a span of the expected type), then picks the short span the question asks for (figure with
unit, name, date, place, list) or returns the sentence. Scores are logistic, in [0, 1].
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from index.sentences import clause_spans, paragraph_spans, split_sentences
from index.text import Token, fold_lower, has_vietnamese_marks, normalize, tokenize
from index.types import Document
from qa import scoring
from qa.candidates import (
    QuestionTerms,
    asks_period,
    in_question,
    penalty,
    sentence_candidates,
    term_positions,
    token_span,
)
from qa.cite import make_answer
from qa.qtype import QuestionInfo, classify, english_terms, topic_names
from qa.types import Answer, Passage

DEFAULT_NO_ANSWER_THRESHOLD = 0.54  # = ReaderConfig.no_answer_threshold (docs/calibration.md)
TIME_TERM_FACTOR = 0.35
STRONG_TYPES = frozenset({"number", "duration", "date", "person", "place", "list"})
FALLBACK_PENALTY = 2.5  # a whole sentence answering a figure/date/name question
SHORT_FALLBACK_PENALTY = 1.0  # ... any other short-answer question
PERIOD_PENALTY = 2.0  # a part-year figure ("6 tháng đầu năm") when no period is asked
YEAR_WINDOW = 800  # characters before a sentence whose years set its time scope
EMBED_TOP = 12  # sentences embedded per question (the best by the other features)
EMBED_CACHE = 4096  # sentence embeddings kept in memory
UNIT_CACHE = 2048  # passages whose sentence split and tokens are kept in memory
TYPED_TOP = 40  # sentences whose candidates are extracted to score the answer type
EXPAND_DOCS = 2  # documents of the best passages whose other paragraphs are read too
_YEAR_RE = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")
_PERIOD_RE = re.compile(r"\b(?:\d+|mot|hai|ba|bon|sau|chin) thang\b|\bquy (?:[ivx]+|\d)\b")
Embed = Callable[[Sequence[str]], np.ndarray]

_QUESTION_STOP = frozenset(
    [
        "bao", "nhiêu", "mấy", "ai", "nào", "gì", "đâu", "sao", "thế", "nào", "khi", "là", "có",
        "của", "được", "đã", "và", "các", "những", "trong", "với", "cho", "về", "tại", "ở", "thì",
        "mà", "này", "đó", "không", "hay", "hoặc", "vậy", "nhỉ", "ạ", "hả", "chưa", "bị", "do",
        "như"
    ])
_QUESTION_STOP_FOLDED = frozenset(fold_lower(w) for w in _QUESTION_STOP) - {"dang", "nam"}
_GAP_COST = {";": 6.0, ":": 3.0, "(": 2.0, ")": 2.0, ",": 1.5, "–": 2.0, "-": 0.5}


class Reader(Protocol):
    """Anything that turns passages into ranked, cited answers (best first, score in [0, 1])."""

    def read(self, question: str, passages: Sequence[Passage],
             documents: Mapping[str, Document]) -> list[Answer]: ...


def is_no_answer(answers: Sequence[Answer], threshold: float) -> bool:
    """True when there is no answer or the best one scores below ``threshold``."""
    return not answers or max(a.score for a in answers) < threshold


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
    context: str = ""  # document title and text before the sentence (its time scope)
    doc: Document | None = None
    folded_text: str = ""  # the sentence folded (same length)

    @property
    def text(self) -> str:
        """The sentence itself."""
        return self.passage.text[self.start:self.end]


def question_terms(question: str, info: QuestionInfo,
                   names: Sequence[str] = ()) -> QuestionTerms:
    """Content tokens of the question (question words, particles and the topic ``names``,
    which are scored apart, removed) and its adjacent content-word pairs (compounds).

    A question typed without diacritics is matched on folded words at full strength; an English
    question through its glossary words (:func:`qa.qtype.english_terms`), folded too.
    """
    fold_only = info.english or not has_vietnamese_marks(question)
    if info.english:
        words = [fold_lower(w) for w in english_terms(question)]
        stop: frozenset[str] = frozenset()
    else:
        stop = _QUESTION_STOP_FOLDED if fold_only else _QUESTION_STOP
        words = [t.norm for t in tokenize(question)]
        words = [fold_lower(w) for w in words] if fold_only else words
    name_words = {w for name in names for w in name.split()}
    stop = stop | {w for w in words if fold_lower(w) in name_words}
    content = [w for w in words if w not in stop]
    pairs = {(a, b) for a, b in zip(words, words[1:], strict=False)
             if a not in stop and b not in stop}
    return QuestionTerms(tuple(content), tuple(fold_lower(w) for w in content), fold_only,
                         frozenset(pairs))


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
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._folded_docs: dict[str, str] = {}
        self._unit_cache: OrderedDict[str, list[tuple[int, int, list[Token], str]]] = (
            OrderedDict())
        self._lock = threading.Lock()  # the caches are shared by concurrent questions

    def read(self, question: str, passages: Sequence[Passage],
             documents: Mapping[str, Document]) -> list[Answer]:
        """Answers best first; each is a verbatim, validated span of its document."""
        question = normalize(question).strip()
        prepared = self._prepare(question, passages, documents)
        if prepared is None:
            return []
        info, terms, weights, sentences = prepared
        best = sorted(sentences, key=lambda s: -s.logit)[: self.top_sentences]
        scored: list[tuple[float, Passage, int, int]] = []
        for sent in best:
            scored.extend(self._sentence_answers(question, info, terms, weights, sent))
        return self._finish(scored, documents)

    def _prepare(self, question: str, passages: Sequence[Passage],
                 documents: Mapping[str, Document] | None = None
                 ) -> tuple[QuestionInfo, QuestionTerms, dict[str, float], list[_Sentence]] | None:
        """Question analysis, term weights and scored sentences (None when nothing to read)."""
        info = classify(question)
        ranked = sorted(passages, key=lambda p: -p.score)[: self.max_passages]
        ranked = with_documents(ranked, documents or {}, EXPAND_DOCS)
        sentences = self._sentences(ranked, documents or {})
        if not question or not sentences:
            return None
        terms = question_terms(question, info, topic_names(question))
        key = terms.folded if terms.fold_only else terms.terms
        weights = scoring.idf_weights(key, [s.folded if terms.fold_only else s.words
                                            for s in sentences])
        weights = scoring.scale_terms(weights, scoring.time_terms(key), TIME_TERM_FACTOR)
        self._score_sentences(question, info, terms, weights, sentences)
        return info, terms, weights, sentences

    # -- sentences -------------------------------------------------------------------------
    def _sentences(self, passages: Sequence[Passage],
                   documents: Mapping[str, Document]) -> list[_Sentence]:
        """Every sentence of the passages with its tokens, word sets and preceding context."""
        ranks = scoring.rank_feature([p.score for p in passages])
        out: list[_Sentence] = []
        seen: set[tuple[str, int, int]] = set()  # overlapping chunks repeat sentences
        for passage, rank in zip(passages, ranks, strict=False):
            doc = documents.get(passage.doc_id)
            for start, end, toks, folded in self._units(passage):
                key = (passage.doc_id, passage.start + start, passage.start + end)
                if key not in seen:
                    seen.add(key)
                    out.append(_Sentence(passage, rank, start, end, toks,
                                         {t.norm for t in toks},
                                         {folded[t.start:t.end] for t in toks},
                                         context=_context(doc, passage, start), doc=doc,
                                         folded_text=folded))
        return out

    def _units(self, passage: Passage) -> list[tuple[int, int, list[Token], str]]:
        """Sentences/clauses of a passage with tokens and folded text (LRU-cached by text)."""
        with self._lock:
            cached = self._unit_cache.get(passage.text)
            if cached is not None:
                self._unit_cache.move_to_end(passage.text)
                return cached
        out = []
        for a, b in split_sentences(passage.text):
            for start, end in clause_spans(passage.text, a, b):
                toks = tokenize(passage.text[start:end])
                if toks:
                    out.append((start, end, toks, fold_lower(passage.text[start:end])))
        with self._lock:
            self._unit_cache[passage.text] = out
            if len(self._unit_cache) > UNIT_CACHE:
                self._unit_cache.popitem(last=False)
        return out

    def _folded(self, doc: Document | None) -> str:
        """The folded text of a document (cached per document version)."""
        if doc is None:
            return ""
        key = doc.doc_id + ":" + doc.content_hash
        folded = self._folded_docs.get(key)
        if folded is None:
            folded = fold_lower(doc.title + "\n" + doc.text)
            with self._lock:
                if len(self._folded_docs) >= 256:
                    self._folded_docs.clear()
                self._folded_docs[key] = folded
        return folded

    def _score_sentences(self, question: str, info: QuestionInfo, terms: QuestionTerms,
                         weights: Mapping[str, float], sentences: list[_Sentence]) -> None:
        """Set each sentence's logit from lexical, bigram, embedding, rank and type features."""
        key = terms.folded if terms.fold_only else terms.terms
        years = set(_YEAR_RE.findall(question))
        period = asks_period(question, info) or not years
        names = topic_names(question)  # computed again: cheap, keeps signatures small
        in_docs: dict[str, set[str]] = {}
        for sent in sentences:
            words = sent.folded if terms.fold_only else sent.words
            seq = [sent.folded_text[t.start:t.end] if terms.fold_only else t.norm
                   for t in sent.tokens]
            sent_pairs = scoring.bigrams(seq)
            lex = scoring.lexical_overlap(key, terms.folded, weights, words, sent.folded,
                                          pairs=terms.bigrams, sentence_pairs=sent_pairs)
            bigram = scoring.bigram_overlap(set(terms.bigrams), sent_pairs)
            scope = scoring.year_scope(years, sent.text, sent.context)
            about = scoring.name_scope(
                names, sent.folded_text,
                fold_lower(sent.context) if names and any(
                    not scoring.has_name(n, sent.folded_text) for n in names) else "",
                self._names_in_doc(names, sent.doc, in_docs))
            sent.logit = scoring.sentence_logit(lex, bigram, None, sent.rank, 0.0, scope, about)
            if not period and _PERIOD_RE.search(sent.folded_text):
                sent.logit -= PERIOD_PENALTY
        if info.short and info.qtype != "definition":  # candidates only in the best sentences
            for sent in sorted(sentences, key=lambda s: -s.logit)[:TYPED_TOP]:
                sent.logit += (scoring.SENTENCE_WEIGHTS["typed"]
                               * self._typed_feature(question, info, sent))
        self._add_embeddings(question, sentences)

    def _names_in_doc(self, names: Sequence[str], doc: Document | None,
                      memo: dict[str, set[str]]) -> set[str]:
        """The ``names`` that occur in ``doc`` (folded), memoised per question in ``memo``."""
        if doc is None or not names:
            return set()
        if doc.doc_id not in memo:
            text = self._folded(doc)
            memo[doc.doc_id] = {n for n in names if scoring.has_name(n, text)}
        return memo[doc.doc_id]

    def _add_embeddings(self, question: str, sentences: list[_Sentence]) -> None:
        """Add the embedding feature to the best ``EMBED_TOP`` sentences; the others get the
        lowest value those got (they are weaker on everything else already)."""
        if self.embed_queries is None or self.embed_passages is None or not sentences:
            return
        best = sorted(sentences, key=lambda s: -s.logit)[:EMBED_TOP]
        query = np.asarray(self.embed_queries([question]), dtype=np.float32)[0]
        rows = self._sentence_vectors([s.text for s in best])
        feats = [scoring.embedding_feature(float(c)) for c in scoring.cosine_rows(query, rows)]
        chosen = {id(s): f for s, f in zip(best, feats, strict=True)}
        floor = min(feats)
        for sent in sentences:
            sent.logit += scoring.SENTENCE_WEIGHTS["emb"] * chosen.get(id(sent), floor)

    def _sentence_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Passage embeddings of ``texts`` through a small in-memory LRU cache."""
        with self._lock:
            found = {t: self._cache[t] for t in texts if t in self._cache}
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing and self.embed_passages is not None:
            rows = np.asarray(self.embed_passages(missing), dtype=np.float32)
            found.update(zip(missing, rows, strict=True))
        with self._lock:  # another question may have evicted some meanwhile: put them back
            for text in texts:
                self._cache[text] = found[text]
                self._cache.move_to_end(text)
            while len(self._cache) > EMBED_CACHE:
                self._cache.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def _typed_feature(self, question: str, info: QuestionInfo, sent: _Sentence) -> float:
        """Best fit x evidence of a candidate of the expected type in the sentence."""
        text = sent.passage.text[sent.start:sent.end]
        fits = [scoring.type_fit(info, c) * c.evidence for c in sentence_candidates(text, info)
                if not in_question(text, c, question)]
        return max(fits, default=0.0)

    # -- spans -----------------------------------------------------------------------------
    def _sentence_answers(self, question: str, info: QuestionInfo, terms: QuestionTerms,
                          weights: Mapping[str, float], sent: _Sentence
                          ) -> list[tuple[float, Passage, int, int]]:
        """Scored (logit, passage, start, end) answers of one sentence, offsets in the passage."""
        base = sent.start
        fallback = (FALLBACK_PENALTY if info.qtype in STRONG_TYPES
                    else SHORT_FALLBACK_PENALTY if info.short else 0.0)
        out = [(sent.logit + scoring.BIAS_SENTENCE - fallback, sent.passage, sent.start, sent.end)]
        if not info.short:
            return out
        text = sent.passage.text[sent.start:sent.end]
        positions = stretched_positions(text, sent.tokens)
        term_pos = term_positions(terms, weights, sent.tokens, positions)
        for cand in sentence_candidates(text, info):
            fit = scoring.type_fit(info, cand)
            if fit <= 0.0:
                continue
            span = token_span(sent.tokens, positions, cand)
            prox = scoring.proximity(term_pos, {t: weights[t] for t in weights}, span)
            logit = scoring.answer_logit(sent.logit, fit, cand.evidence, prox, cand.head_match,
                                         penalty(text, cand, question))
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
            answer = make_answer(passage, start, end, scoring.logistic(logit), documents)
            if answer is not None:
                answers.append(answer)
                taken.append((passage.doc_id, a_start, a_end))
            if len(answers) >= self.top_n:
                break
        return answers


def with_documents(passages: Sequence[Passage], documents: Mapping[str, Document],
                   n_docs: int) -> list[Passage]:
    """The passages, then each paragraph of the documents of the first ``n_docs`` distinct
    documents as an extra passage of score 0 (an answer may sit next to the retrieved chunk)."""
    out = list(passages)
    doc_ids = list(dict.fromkeys(p.doc_id for p in passages))[:n_docs]
    for doc_id in doc_ids:
        doc = documents.get(doc_id)
        if doc is None or any(p.doc_id == doc_id and doc.text[p.start:p.end] != p.text
                              for p in passages):
            continue  # unknown or stale document: read only what was retrieved
        for number, (start, end) in enumerate(paragraph_spans(doc.text), start=1):
            out.append(Passage(f"{doc_id}#p{number}", doc_id, doc.title, doc.date, doc.source,
                               number, doc.text[start:end], start, end, 0.0))
    return out


def _context(doc: Document | None, passage: Passage, start: int) -> str:
    """Up to ``YEAR_WINDOW`` characters before a sentence (from the document when known),
    with the document's title."""
    if doc is None:
        return passage.text[max(0, start - YEAR_WINDOW):start]
    pos = passage.start + start
    return doc.title + "\n" + doc.text[max(0, pos - YEAR_WINDOW):pos]
