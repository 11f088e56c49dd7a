"""Acceptance: for every seeds question with a document, a passage of that document containing
the answer is in the top 5 of search, with and without diacritics."""

from __future__ import annotations

import json

import pytest

from index.text import fold, normalize
from tests.shared import shared_file

SEEDS_QA = "eval/seeds_qa.jsonl"


def load_questions() -> list[dict]:
    text = shared_file(SEEDS_QA).read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in rows if r["doc"]]


def hit_rank(passages, doc: str, answers: list[str]) -> int | None:
    golds = [normalize(a).lower() for a in answers]
    for rank, p in enumerate(passages):
        if p.doc_id == doc and any(g in p.text.lower() for g in golds):
            return rank
    return None


@pytest.mark.model
@pytest.mark.parametrize("strip_marks", [False, True], ids=["diacritics", "no-diacritics"])
def test_gold_passage_in_top5(seeds_engine, strip_marks):
    misses = []
    for row in load_questions():
        question = fold(row["question"]) if strip_marks else row["question"]
        passages = seeds_engine.search(question, k=5)
        if hit_rank(passages, row["doc"], row["answers"]) is None:
            misses.append(row["id"])
    assert misses == []


@pytest.mark.model
def test_cli_search_json(seeds_engine, capsys):
    from hoidap.cli import main

    rc = main(["search", "Tỷ lệ hộ nghèo của huyện Ba Chẽ", "--k", "3", "--json",
               "--index", str(seeds_engine.index_dir)])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(out["passages"]) == 3
    assert out["passages"][0]["doc_id"] == "004_89987b1a15d4823c"
