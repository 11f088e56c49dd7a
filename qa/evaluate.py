"""Evaluation: data sets (SQuAD v1/v2 JSON, JSONL), metrics and a runner over :class:`QAEngine`.

Metrics are small pure functions. Answer normalisation is SQuAD's, adapted to Vietnamese:
NFC with canonical tone placement, lowercase, punctuation removed, whitespace collapsed
(no English article removal). Containment is checked on whole tokens, so ``"2"`` is not
found inside ``"2033"``.
"""

from __future__ import annotations

import json
import math
import re
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from hoidap.config import Config
from hoidap.errors import HoidapError, InputError
from index.sentences import split_sentences
from index.text import normalize
from index.types import Document

RANK_CUTOFF = 10  # passages retrieved per question for R@k / MRR@10

# -- data ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One evaluation question; no ``answers`` means it is unanswerable."""

    qid: str
    question: str
    answers: tuple[str, ...]
    doc: str | None = None  # doc_id of the gold document, when known

    @property
    def answerable(self) -> bool:
        """True when there is at least one gold answer."""
        return bool(self.answers)


@dataclass(frozen=True)
class Paragraph:
    """A SQuAD context, indexed as one document."""

    doc_id: str
    title: str
    context: str


@dataclass(frozen=True)
class EvalSet:
    """Questions and, for SQuAD files, the paragraphs they are about."""

    examples: tuple[Example, ...]
    paragraphs: tuple[Paragraph, ...] = ()


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _squad_example(qa: dict, doc_id: str) -> Example:
    impossible = bool(qa.get("is_impossible", False))
    golds = [] if impossible else [a["text"] for a in qa.get("answers", [])]
    answers = tuple(dict.fromkeys(_nfc(g) for g in golds if _nfc(g)))
    return Example(str(qa.get("id", "")), _nfc(qa["question"]), answers, doc_id)


def parse_squad(data: dict, source: str = "SQuAD") -> EvalSet:
    """Examples and paragraphs of a SQuAD v1/v2 object; doc ids are ``<article>-<paragraph>``."""
    try:
        examples: list[Example] = []
        paragraphs: list[Paragraph] = []
        for ai, article in enumerate(data["data"]):
            title = str(article.get("title", f"article {ai}")).replace("_", " ")
            for pi, para in enumerate(article["paragraphs"]):
                doc_id = f"{ai}-{pi}"
                paragraphs.append(Paragraph(doc_id, _nfc(title), _nfc(para["context"])))
                examples.extend(_squad_example(qa, doc_id) for qa in para["qas"])
    except (KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{source} is not SQuAD JSON (data[].paragraphs[].context/qas[]): "
                         f"missing or bad field {exc}") from exc
    return EvalSet(tuple(examples), tuple(paragraphs))


def _jsonl_example(obj: object, n: int, source: str) -> Example:
    where = f"{source} line {n}"
    if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
        raise InputError(f"{where} needs a \"question\" string field")
    answers = obj.get("answers", [])
    if isinstance(answers, str):
        answers = [answers]
    if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
        raise InputError(f"{where}: \"answers\" must be a list of strings, got {answers!r}")
    doc = obj.get("doc")
    if doc is not None and not isinstance(doc, str):
        raise InputError(f"{where}: \"doc\" must be a document id string or null, got {doc!r}")
    golds = tuple(dict.fromkeys(_nfc(a) for a in answers if _nfc(a)))
    return Example(str(obj.get("id", n)), _nfc(obj["question"]), golds, doc)


def parse_jsonl(text: str, source: str = "JSONL") -> EvalSet:
    """One ``{"question", "answers": [...], "doc"?, "id"?}`` object per line."""
    examples = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{source} line {n} is not JSON: {exc}") from exc
        examples.append(_jsonl_example(obj, n, source))
    return EvalSet(tuple(examples))


def load_eval_set(path: Path) -> EvalSet:
    """Read a SQuAD JSON or a JSONL question file (detected from its content)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read evaluation file {path}: {exc}") from exc
    if path.suffix.lower() != ".jsonl":
        try:
            whole = json.loads(text)
        except ValueError:
            whole = None
        if isinstance(whole, dict) and "data" in whole:
            data = parse_squad(whole, str(path))
            return _non_empty(data, path)
    return _non_empty(parse_jsonl(text, str(path)), path)


def _non_empty(data: EvalSet, path: Path) -> EvalSet:
    if not data.examples:
        raise InputError(f"{path} has no questions; give SQuAD JSON or JSONL with \"question\"")
    return data


def paragraph_documents(paragraphs: Iterable[Paragraph], source: str) -> list[Document]:
    """One cleaned :class:`Document` per paragraph, titled by its article."""
    from index.clean import make_document

    docs = []
    for p in paragraphs:
        doc = make_document(p.doc_id, f"{source}#{p.doc_id}", p.context)
        docs.append(replace(doc, title=p.title))
    return docs


# -- metrics (pure) ---------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def _is_punct(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat.startswith("P") or (cat.startswith("S") and cat != "Sk")


def normalize_answer(text: str) -> str:
    """NFC + tone placement, lowercase, punctuation removed, whitespace collapsed."""
    text = normalize(text).lower()
    text = "".join(" " if ch.isspace() else ch for ch in text if not _is_punct(ch))
    return _SPACES.sub(" ", text).strip()


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in golds))


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if not pred_tokens or not gold_tokens or common == 0:
        return float(pred_tokens == gold_tokens)
    precision, recall = common / len(pred_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """SQuAD token F1 over syllables, the best over gold answers (0.0 without golds)."""
    pred = normalize_answer(prediction).split()
    return max((_f1(pred, normalize_answer(g).split()) for g in golds), default=0.0)


def contains_answer(text: str, golds: Sequence[str]) -> bool:
    """True when a normalised gold answer occurs in ``text`` as whole tokens."""
    hay = f" {normalize_answer(text)} "
    return any(g and f" {g} " in hay for g in map(normalize_answer, golds))


def first_relevant_rank(passages: Sequence[tuple[str, str]], golds: Sequence[str],
                        doc: str | None = None) -> int | None:
    """1-based rank of the first ``(doc_id, text)`` containing a gold answer (and in ``doc``
    when given); None when no passage qualifies."""
    for rank, (doc_id, text) in enumerate(passages, 1):
        if (doc is None or doc_id == doc) and contains_answer(text, golds):
            return rank
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose first relevant passage is within the top ``k``."""
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr_at(ranks: Sequence[int | None], k: int) -> float:
    """Mean reciprocal rank, counting ranks beyond ``k`` (or missing) as 0."""
    if not ranks:
        return 0.0
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation; NaN for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def precision_recall(predicted: Sequence[bool], actual: Sequence[bool]) -> tuple[float, float]:
    """Precision and recall of positive predictions (NaN when undefined)."""
    tp = sum(1 for p, a in zip(predicted, actual, strict=True) if p and a)
    n_pred, n_true = sum(map(bool, predicted)), sum(map(bool, actual))
    return (tp / n_pred if n_pred else math.nan, tp / n_true if n_true else math.nan)


# -- runner -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionResult:
    """What happened to one question."""

    example: Example
    rank: int | None  # first gold passage among the top RANK_CUTOFF (None: not found)
    search_ms: float
    predicted: str | None = None  # top answer; None when not asked
    no_answer: bool | None = None
    answer_passage: str = ""
    answer_score: float | None = None
    latency_ms: float | None = None  # one ``ask`` call
    answer_sentence: str = ""

    @property
    def asked(self) -> bool:
        """True when the reader was run for this question."""
        return self.no_answer is not None

    def scores(self) -> dict[str, float]:
        """EM, F1 and containment of the top answer (empty when unanswerable or not asked)."""
        golds = self.example.answers
        if not golds or not self.asked:
            return {}
        pred = self.predicted or ""
        return {"em": exact_match(pred, golds), "f1": token_f1(pred, golds),
                "contains": float(bool(pred) and contains_answer(pred, golds)),
                "sentence_contains": float(contains_answer(self.answer_sentence, golds)),
                "passage_contains": float(contains_answer(self.answer_passage, golds))}

    def to_dict(self) -> dict:
        """One line of ``--out``."""
        ex = self.example
        return {"id": ex.qid, "question": ex.question, "gold": list(ex.answers),
                "doc": ex.doc, "predicted": self.predicted, "no_answer": self.no_answer,
                "answer_score": self.answer_score, "scores": self.scores(), "rank": self.rank,
                "latency_ms": _round(self.latency_ms), "search_ms": _round(self.search_ms)}


def _round(x: float | None, digits: int = 2) -> float | None:
    return None if x is None or math.isnan(x) else round(x, digits)


def gold_doc(example: Example, known_docs: set[str]) -> str | None:
    """The gold document to require, when the example names one the index has."""
    return example.doc if example.doc in known_docs else None


def answer_sentence(text: str, start: int, end: int) -> str:
    """The sentence(s) of ``text`` that hold the span ``[start, end)``."""
    spans = [(a, b) for a, b in split_sentences(text) if a < end and b > start]
    return text[spans[0][0]:spans[-1][1]] if spans else text[start:end]


def evaluate_one(engine, example: Example, *, k: int, mode: str, read: bool,
                 known_docs: set[str]) -> QuestionResult:
    """Retrieve (and, with ``read``, answer) one question."""
    t0 = time.perf_counter()
    passages = engine.search(example.question, k=RANK_CUTOFF, mode=mode)
    search_ms = (time.perf_counter() - t0) * 1000
    rank = None
    if example.answerable:
        rank = first_relevant_rank([(p.doc_id, p.text) for p in passages], example.answers,
                                   gold_doc(example, known_docs))
    result = QuestionResult(example, rank, search_ms)
    if not read:
        return result
    t0 = time.perf_counter()
    qa = engine.ask(example.question, k=k)
    latency = (time.perf_counter() - t0) * 1000
    top = qa.answers[0] if qa.answers and not qa.no_answer else None
    sentence = answer_sentence(engine.document(top.citation.doc_id).text,
                               top.citation.start, top.citation.end) if top else ""
    return replace(result, predicted=top.text if top else "", no_answer=qa.no_answer,
                   answer_passage=top.passage_text if top else "", answer_sentence=sentence,
                   answer_score=top.score if top else None, latency_ms=latency)


def evaluate(engine, examples: Sequence[Example], *, k: int = 5, mode: str = "hybrid",
             read: bool = True, progress: Callable[[int], None] | None = None,
             ) -> list[QuestionResult]:
    """Run every example through ``engine`` (a :class:`qa.engine.QAEngine`)."""
    known = {d.doc_id for d in engine.documents()}
    results = []
    for example in examples:
        results.append(evaluate_one(engine, example, k=k, mode=mode, read=read,
                                    known_docs=known))
        if progress:
            progress(1)
    return results


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _answer_metrics(results: Sequence[QuestionResult]) -> dict[str, float]:
    asked = [r for r in results if r.asked]
    scored = [r.scores() for r in asked if r.example.answerable]
    refusals, impossible = [bool(r.no_answer) for r in asked], \
        [not r.example.answerable for r in asked]
    precision, recall = precision_recall(refusals, impossible)
    latencies = [r.latency_ms for r in asked if r.latency_ms is not None]
    out = {name: _mean([s[name] for s in scored])
           for name in ("em", "f1", "contains", "sentence_contains", "passage_contains")}
    out["refused_answerable"] = _mean([float(bool(r.no_answer)) for r in asked
                                       if r.example.answerable])
    out |= {"no_answer_precision": precision, "no_answer_recall": recall,
            "latency_p50_ms": percentile(latencies, 50),
            "latency_p95_ms": percentile(latencies, 95)}
    return out


def summarize(results: Sequence[QuestionResult], *, mode: str = "hybrid",
              k: int = 5) -> dict[str, object]:
    """Aggregate metrics; NaN (undefined) values become None."""
    ranks = [r.rank for r in results if r.example.answerable]
    metrics: dict[str, object] = {
        "questions": len(results), "answerable": len(ranks),
        "unanswerable": len(results) - len(ranks), "mode": mode, "k": k,
        "recall@1": recall_at(ranks, 1), "recall@5": recall_at(ranks, 5),
        "mrr@10": mrr_at(ranks, RANK_CUTOFF),
        "search_p50_ms": percentile([r.search_ms for r in results], 50),
    }
    if any(r.asked for r in results):
        metrics |= _answer_metrics(results)
    return {key: (_round(v, 4) if isinstance(v, float) else v) for key, v in metrics.items()}


# -- building an index for a SQuAD file -------------------------------------------------------


def build_eval_index(data: EvalSet, config: Config, encoder, source: str,
                     progress=None):
    """Index every paragraph of ``data`` into ``config``'s index folder (replacing it)."""
    from qa.search.write import build_index

    if not data.paragraphs:
        raise InputError(f"{source} has no contexts to index: --build needs a SQuAD JSON file "
                         "(for JSONL questions give an index with --index)")
    docs = _safe_documents(data.paragraphs, source)
    return build_index([], config, encoder, fresh=True, progress=progress, documents=docs)


def _safe_documents(paragraphs: Sequence[Paragraph], source: str) -> list[Document]:
    docs = []
    for p in paragraphs:
        try:
            docs.extend(paragraph_documents([p], source))
        except HoidapError:
            continue  # a context with no text left after cleaning cannot be retrieved anyway
    return docs
