"""End to end over the seeds with the real model: retrieval + heuristic reader + refusal.

Builds a seeds index once per session (real e5 embedder), then asks the public seeds questions
(eval/seeds_qa.jsonl), the same without diacritics, English ones and the held-out set
(tests/data/seeds_heldout.jsonl). Floors are measured values minus a small margin.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from hoidap.config import Config, ReaderConfig
from index.text import fold, normalize
from qa.engine import QAEngine
from qa.search.write import build_index
from qa.types import QAResult
from tests.shared import shared_file

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = "eval/seeds_qa.jsonl"
HELDOUT = ROOT / "tests" / "data" / "seeds_heldout.jsonl"
POVERTY_DOC = "004_89987b1a15d4823c"

pytestmark = pytest.mark.model


def load(path: Path) -> list[dict]:
    """Question records: question, answers (empty = unanswerable), doc."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def public_questions() -> list[dict]:
    """The public seeds questions (the shared file; missing fails)."""
    return load(shared_file(PUBLIC))


# Floors per reader: measured minus a small margin (docs/reader.md); never lowered silently.
FLOORS = {
    "heuristic": {"public": 17, "no_diacritics": 16, "heldout": 0.85, "heldout_refused": 0.6},
    # measured 16/19, 15/19, 30/45 held-out: below the heuristic reader, so it is not promoted
    "neural": {"public": 16, "no_diacritics": 15, "heldout": 0.64, "heldout_refused": 0.6},
}


@pytest.fixture(scope="session")
def seeds_index(embedder, tmp_path_factory) -> Path:
    """A fresh seeds index, built once."""
    index_dir = tmp_path_factory.mktemp("seeds_index")
    build_index([ROOT / "seeds"], Config.from_env(index_dir=index_dir), embedder, fresh=True)
    return index_dir


@pytest.fixture(scope="session", params=["heuristic", "neural"])
def reader_kind(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def seeds_engine(embedder, seeds_index, reader_kind) -> QAEngine:
    """An engine over the seeds index with one reader and its default refusal threshold."""
    config = Config.from_env(index_dir=seeds_index,
                             reader=replace(ReaderConfig(), kind=reader_kind))
    return QAEngine(config, embedder=embedder)


@pytest.fixture(scope="session")
def floors(reader_kind) -> dict:
    return FLOORS[reader_kind]


@pytest.fixture(scope="session")
def ask(seeds_engine):
    """``ask(question)`` with results memoised for the session; checks every citation."""
    memo: dict[str, QAResult] = {}

    def run(question: str) -> QAResult:
        if question not in memo:
            result = seeds_engine.ask(question)
            docs = seeds_engine.index.documents
            for answer in result.answers:
                doc = docs[answer.citation.doc_id]
                assert doc.text[answer.citation.start:answer.citation.end] == answer.text
            memo[question] = result
        return memo[question]

    return run


def is_right(result: QAResult, record: dict) -> bool:
    """Top answer from the right document, containing a gold, at most 2x its length + 20."""
    if not result.answers:
        return False
    top = result.answers[0]
    text = top.text.lower()
    return top.citation.doc_id == record["doc"] and any(
        normalize(g).lower() in text and len(top.text) <= 2 * len(g) + 20
        for g in record["answers"])


def test_public_answerable_questions(ask, floors) -> None:
    records = [r for r in public_questions() if r["answers"]]
    wrong = [r["question"] for r in records if not is_right(ask(r["question"]), r)]
    assert len(records) - len(wrong) >= floors["public"], wrong


def test_public_unanswerable_question_is_refused(ask) -> None:
    for record in (r for r in public_questions() if not r["answers"]):
        result = ask(record["question"])
        assert result.no_answer and not result.answers, result.answers


def test_questions_without_diacritics(ask, floors) -> None:
    records = [r for r in public_questions() if r["answers"]]
    wrong = [r["question"] for r in records
             if not is_right(ask(fold(r["question"])), r)]
    assert len(records) - len(wrong) >= floors["no_diacritics"], wrong


def test_english_poverty_rate(ask, reader_kind) -> None:
    if reader_kind == "neural":
        pytest.xfail("the trained reader refuses this English question (docs/reader.md)")
    result = ask("What was the poverty rate in Ba Che district?")
    assert not result.no_answer
    top = result.answers[0]
    assert "1,29%" in top.text and len(top.text) <= 2 * len("1,29%") + 20
    assert top.citation.doc_id == POVERTY_DOC


def test_heldout_questions(ask, floors) -> None:
    records = load(HELDOUT)
    answerable = [r for r in records if r["answers"]]
    unanswerable = [r for r in records if not r["answers"]]
    right = sum(is_right(ask(r["question"]), r) for r in answerable)
    refused = sum(ask(r["question"]).no_answer for r in unanswerable)
    assert right >= floors["heldout"] * len(answerable), (right, len(answerable))
    assert refused >= floors["heldout_refused"] * len(unanswerable), (refused, len(unanswerable))
