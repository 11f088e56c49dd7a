"""Hybrid retrieval and the engine's search/ask edges, with the hash embedder."""

from __future__ import annotations

import unicodedata

import pytest

from hoidap.config import Config
from hoidap.errors import InputError, QuestionError
from index.store import load_index
from qa.engine import QAEngine
from qa.search import make_query, rank
from qa.search.local import LocalEngine
from qa.search.write import build_index
from qa.types import Filters
from tests.fakes import HashEmbedder
from tests.test_index import DOC_A, DOC_B, write

DOC_C = """Huyện Lộc Bình tổng kết

05/11/2020

Tổng thu ngan sach tren dia ban dat 300 tỷ đồng theo báo cáo cũ không dấu.
"""


@pytest.fixture
def engine(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    write(folder, "a.txt", DOC_A)
    write(folder, "b.txt", DOC_B)
    write(folder, "c.txt", DOC_C)
    config = Config(home=tmp_path / "home", index_dir=tmp_path / "idx")
    emb = HashEmbedder()
    build_index([folder], config, emb)
    return QAEngine(config, embedder=emb)


def test_folded_query_finds_accented_text(engine):
    hits = engine.search("ty le ho ngheo", k=3, mode="bm25")
    assert hits and hits[0].doc_id == "b"


def test_exact_tone_marks_rank_higher(engine):
    hits = engine.search("tổng thu ngân sách trên địa bàn", k=3, mode="bm25")
    assert [h.doc_id for h in hits[:2]] == ["a", "c"]
    hits = engine.search("tong thu ngan sach tren dia ban", k=3, mode="bm25")
    assert {h.doc_id for h in hits[:2]} == {"a", "c"}


def test_one_letter_words_and_numbers_are_searchable(engine):
    hits = engine.search("3.772", k=2, mode="bm25")
    assert hits[0].doc_id == "b"
    assert engine.search("ở", k=5, mode="bm25")[0].doc_id == "a"


def test_nfd_query_equals_nfc(engine):
    q = "Tỷ lệ hộ nghèo của huyện"
    nfd = unicodedata.normalize("NFD", q)
    assert [p.chunk_id for p in engine.search(q)] == [p.chunk_id for p in engine.search(nfd)]


def test_passages_are_exact_slices_with_scores(engine):
    docs = engine.index.documents
    hits = engine.search("nông thôn mới Xuất Lễ", k=5)
    assert hits[0].doc_id == "a"
    for p in hits:
        assert docs[p.doc_id].text[p.start:p.end] == p.text
        assert 0 < p.score <= 1
    assert [p.score for p in hits] == sorted((p.score for p in hits), reverse=True)


def test_filters(engine):
    hits = engine.search("huyện", k=10, filters=Filters(doc_ids=("b",)))
    assert {h.doc_id for h in hits} == {"b"}
    hits = engine.search("huyện", k=10, filters=Filters(date_from="2021-01-01"))
    assert {h.doc_id for h in hits} == {"a"}
    hits = engine.search("huyện", k=10, filters=Filters(date_to="2020-10-31"))
    assert {h.doc_id for h in hits} == {"b"}


@pytest.mark.parametrize("filters", [
    Filters(date_from="24/09/2021"),
    Filters(date_from="2021-01-01", date_to="2020-01-01"),
    Filters(doc_ids=("nope",)),
])
def test_bad_filters_are_input_errors(engine, filters):
    with pytest.raises(InputError):
        engine.search("huyện", filters=filters)


@pytest.mark.parametrize("question", ["", "   ", "a" * 2001, "hỏi\x00gì", "x\x1b[31m"])
def test_bad_questions(engine, question):
    with pytest.raises(QuestionError):
        engine.ask(question)


@pytest.mark.parametrize("k", [0, -1, 51, 2.5, True])
def test_bad_k(engine, k):
    with pytest.raises(InputError, match="k must be"):
        engine.search("huyện", k=k)


def test_modes_agree_on_an_easy_query(engine):
    local = LocalEngine(load_index(engine.index_dir), engine.config)
    query = make_query("hộ nghèo Ba Chẽ", local)
    vec = engine.embedder.encode_queries([query.restored])
    for mode in ("dense", "bm25", "hybrid"):
        top = rank(local, query, vec, 1, None, mode, engine.config.retrieval)
        assert top[0].doc_id == "b"

