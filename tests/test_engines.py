"""One suite for every search engine: local (FAISS + BM25 folder) and Milvus (milvus-lite file;
a real Milvus too when ``HOIDAP_TEST_MILVUS_URI`` is set)."""

from __future__ import annotations

import json
import os
import unicodedata
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hoidap.config import Config, LimitsConfig, default_corpus
from hoidap.errors import DocumentNotFoundError, EmptyCorpusError, IndexNotFoundError, InputError
from index.text import fold
from qa.engine import QAEngine
from qa.types import Filters
from tests.fakes import HashEmbedder
from tests.shared import shared_file

DOC_A = """Huyện Cao Lộc tổng kết năm 2020

24/09/2021 07:00

Tổng thu ngân sách Nhà nước trên địa bàn huyện ước đạt 452,2 tỷ đồng, tăng 3,5% so với cùng kỳ.

Người dân ở xã Xuất Lễ và Tân Liên vui mừng vì xã đạt chuẩn nông thôn mới.
"""

DOC_B = """15/10/2020 08:00

Huyện Ba Chẽ họp Ban Chấp hành

Tỷ lệ hộ nghèo của huyện còn 1,29%. Diện tích trồng rừng tập trung đạt 3.772 ha.

Hội đồng nhân dân huyện thông qua nghị quyết về đầu tư công trung hạn.
"""

DOC_C = """Thông báo của UBND xã Hòa Bình

Ủy ban nhân dân xã tổ chức tiêm phòng cho đàn gia súc, đạt 95% kế hoạch.
"""

ENGINES = ["local", "milvus-lite", pytest.param("milvus", marks=pytest.mark.skipif(
    not os.environ.get("HOIDAP_TEST_MILVUS_URI"),
    reason="a real Milvus: set HOIDAP_TEST_MILVUS_URI=http://host:19530 (make test-milvus)"))]

QUERIES = ["tổng thu ngân sách", "tong thu ngan sach", "tỷ lệ hộ nghèo", "xã đạt chuẩn",
           "3,5%", "ở xã", "tiêm phòng gia súc", "nghị quyết đầu tư công",
           "Hội đồng nhân dân", "budget revenue"]


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def make_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True)
    write(folder, "a.txt", DOC_A)
    write(folder, "b.txt", DOC_B)
    write(folder, "c.txt", DOC_C)
    return folder


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return make_corpus(tmp_path / "docs")


def engine_config(kind: str, tmp_path: Path) -> Config:
    """A config for ``kind`` with its own, empty storage (files parsed in-process)."""
    base = Config(home=tmp_path / "home", index_dir=tmp_path / "idx",
                  limits=LimitsConfig(parse_timeout_s=0))
    if kind == "local":
        return base
    name = f"t{uuid.uuid4().hex[:12]}"
    uri = str(tmp_path / "milvus.db") if kind == "milvus-lite" \
        else os.environ["HOIDAP_TEST_MILVUS_URI"]
    return replace(base, engine="milvus", milvus_uri=uri, milvus_collection=name)


def drop_collections(config: Config) -> None:
    if config.engine != "milvus" or "://" not in (config.milvus_uri or ""):
        return
    from qa.search.milvus.schema import connect

    client = connect(config.milvus_uri or "")
    for suffix in ("chunks", "docs", "terms"):
        client.drop_collection(f"{config.milvus_collection}_{suffix}")


@pytest.fixture(params=ENGINES)
def config(request, tmp_path: Path):
    cfg = engine_config(request.param, tmp_path)
    yield cfg
    drop_collections(cfg)


@pytest.fixture
def engine(config: Config, corpus: Path) -> QAEngine:
    """A fresh engine over the corpus, for tests that change it."""
    eng = QAEngine(config, embedder=HashEmbedder())
    eng.update([corpus])
    return eng


@pytest.fixture(scope="module", params=ENGINES)
def built(request, tmp_path_factory) -> QAEngine:
    """One engine per kind over the corpus, shared by the read-only tests."""
    tmp = tmp_path_factory.mktemp(request.param)
    cfg = engine_config(request.param, tmp)
    eng = QAEngine(cfg, embedder=HashEmbedder())
    eng.update([make_corpus(tmp / "docs")])
    yield eng
    drop_collections(cfg)


def ids(passages) -> list[str]:
    return [p.chunk_id for p in passages]


def tied_groups(passages) -> list[frozenset[str]]:
    """Chunk ids best first, those with equal scores grouped (engines break ties differently)."""
    groups: list[tuple[float, set[str]]] = []
    for p in passages:
        if groups and abs(groups[-1][0] - p.score) < 1e-6:
            groups[-1][1].add(p.chunk_id)
        else:
            groups.append((p.score, {p.chunk_id}))
    return [frozenset(g) for _, g in groups]


# -- add / documents --------------------------------------------------------------------------
def test_add_lists_documents_with_exact_text(built):
    docs = built.documents()
    assert [d.doc_id for d in docs] == ["a", "b", "c"]
    assert built.document("a").text.startswith("Huyện Cao Lộc")
    assert built.document("b").date == "2020-10-15"
    assert unicodedata.is_normalized("NFC", built.document("c").text)
    with pytest.raises(DocumentNotFoundError):
        built.document("zzz")


def test_search_passages_are_exact_slices(built):
    passages = built.search("tổng thu ngân sách", k=3)
    assert passages and passages[0].doc_id == "a"
    for p in passages:
        assert built.document(p.doc_id).text[p.start:p.end] == p.text
        assert 0 < p.score <= 1.0 + 1e-9
    assert passages[0].title == built.document("a").title


@pytest.mark.parametrize("query,doc", [("tong thu ngan sach", "a"), ("3,5%", "a"),
                                       ("ở xã Xuất Lễ", "a"), ("ho ngheo", "b"),
                                       ("Uỷ ban nhân dân xã tiêm phòng", "c")])
def test_folded_numbers_one_letter_words_and_tone_placement(built, query, doc):
    assert built.search(query, k=1)[0].doc_id == doc
    nfd = unicodedata.normalize("NFD", query)
    assert ids(built.search(nfd, k=3)) == ids(built.search(query, k=3))


def test_modes(built):
    for mode in ("hybrid", "dense", "bm25"):
        assert built.search("tỷ lệ hộ nghèo", k=2, mode=mode)[0].doc_id == "b"
    assert built.search("zzzz qqqq", k=3, mode="bm25") == []


def test_restored_query_uses_corpus_spelling(built):
    assert built.query("tong thu ngan sach").restored == "tổng thu ngân sách"
    assert built.query("budget revenue").restored == "budget revenue"


def test_follow_up_with_history_prefers_the_cited_document(built):
    """Every engine resolves a follow-up the same way, with or without the cited doc_id."""
    follow = "Đạt bao nhiêu phần trăm?"
    first = {"question": "Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?", "answer": "1,29%"}
    for turn in (first, {**first, "doc_id": "b"}):
        result = built.ask(follow, history=[turn])
        assert result.understood is not None and result.passages[0].doc_id == "b"
    alone_follow = built.ask(follow)  # alone it names no topic: asked to be more specific
    assert alone_follow.vague and alone_follow.no_answer and not alone_follow.passages
    alone = built.ask("Tổng thu ngân sách Nhà nước trên địa bàn huyện ước đạt bao nhiêu?",
                      history=[first])
    assert alone.understood is None and alone.passages[0].doc_id == "a"


# -- update / remove --------------------------------------------------------------------------
def test_update_replaces_chunks_and_embeds_only_changes(config, corpus):
    emb = HashEmbedder()
    engine = QAEngine(config, embedder=emb)
    first = engine.update([corpus])
    assert sorted(first.added) == ["a", "b", "c"] and first.embedded == first.chunks
    again = engine.update([corpus])
    assert again.embedded == 0 and sorted(again.unchanged) == ["a", "b", "c"]
    write(corpus, "b.txt", DOC_B.replace("1,29%", "0,87%"))
    report = engine.update([corpus])
    assert report.updated == ("b",)
    assert 0 < report.embedded < first.chunks
    assert "0,87%" in engine.document("b").text
    hits = engine.search("tỷ lệ hộ nghèo", k=5)
    assert all("1,29%" not in p.text for p in hits)
    assert any("0,87%" in p.text for p in hits)
    assert report.chunks == first.chunks


def test_remove_leaves_no_orphans(engine, corpus):
    report = engine.remove(["b"])
    assert report.removed == ("b",) and report.documents == 2
    assert [d.doc_id for d in engine.documents()] == ["a", "c"]
    assert all(p.doc_id != "b" for p in engine.search("tỷ lệ hộ nghèo", k=10))
    with pytest.raises(DocumentNotFoundError):
        engine.remove(["b"])
    # spelling learnt only from b is forgotten with it
    assert engine.query("ho ngheo dien tich").restored == "ho ngheo dien tich"


def test_fresh_and_empty(config, corpus, tmp_path):
    engine = QAEngine(config, embedder=HashEmbedder())
    with pytest.raises(IndexNotFoundError):
        engine.search("ngân sách")
    with pytest.raises(EmptyCorpusError):
        engine.update([tmp_path / "nothing"])
    engine.update([corpus])
    only_c = tmp_path / "only_c"
    only_c.mkdir()
    write(only_c, "c.txt", DOC_C)
    engine.update([only_c], fresh=True)
    assert [d.doc_id for d in engine.documents()] == ["c"]


# -- filters ----------------------------------------------------------------------------------
def test_filters(built):
    only_b = built.search("huyện", k=10, filters=Filters(doc_ids=("b",)))
    assert only_b and {p.doc_id for p in only_b} == {"b"}
    dated = built.search("huyện", k=10, filters=Filters(date_from="2021-01-01"))
    assert dated and {p.doc_id for p in dated} == {"a"}
    until = built.search("huyện", k=10, filters=Filters(date_to="2020-12-31"))
    assert until and {p.doc_id for p in until} == {"b"}  # c has no date
    both = Filters(doc_ids=("a", "b"), date_from="2020-01-01", date_to="2020-12-31")
    assert {p.doc_id for p in built.search("huyện", k=10, filters=both)} == {"b"}
    undated = Filters(date_to="2020-12-31", include_undated=True)
    assert {p.doc_id for p in built.search("xã", k=10, filters=undated)} == {"b", "c"}
    assert built.undated_excluded(Filters(date_to="2020-12-31")) == 1
    assert built.undated_excluded(Filters(doc_ids=("a", "b"), date_to="2020-12-31")) == 0
    assert built.undated_excluded(undated) == built.undated_excluded(None) == 0
    for mode in ("dense", "bm25"):
        hits = built.search("ngân sách", k=10, filters=Filters(doc_ids=("c",)), mode=mode)
        assert {p.doc_id for p in hits} <= {"c"}


@pytest.mark.parametrize("filters", [Filters(doc_ids=("nope",)), Filters(date_from="2021/01/01"),
                                     Filters(date_from="2022-01-01", date_to="2021-01-01")])
def test_bad_filters(built, filters):
    with pytest.raises(InputError):
        built.search("ngân sách", filters=filters)


# -- persistence ------------------------------------------------------------------------------
def test_persistence_across_engines(engine, config):
    before = {q: [(p.chunk_id, round(p.score, 6)) for p in engine.search(q, k=5)]
              for q in QUERIES}
    reopened = QAEngine(config, embedder=HashEmbedder())
    assert [d.doc_id for d in reopened.documents()] == ["a", "b", "c"]
    after = {q: [(p.chunk_id, round(p.score, 6)) for p in reopened.search(q, k=5)]
             for q in QUERIES}
    assert after == before


# -- the engines agree ------------------------------------------------------------------------
class TrigramEmbedder(HashEmbedder):
    """HashEmbedder plus character trigrams, so dense scores of different texts rarely tie
    (ties are broken differently by FAISS and by HNSW)."""

    def _vec(self, text: str) -> np.ndarray:
        v = super()._vec(text)
        t = fold(text.lower())
        for i in range(len(t) - 2):
            v[int.from_bytes(t[i:i + 3].encode()[:4], "little") % self.dim] += 0.05
        return v / np.linalg.norm(v) if np.linalg.norm(v) else v


def test_milvus_ranks_like_local(corpus, tmp_path):
    """Same chunks, same rankings and fused scores in every mode, on the same corpus."""
    local = QAEngine(engine_config("local", tmp_path / "l"), embedder=TrigramEmbedder())
    milvus = QAEngine(engine_config("milvus-lite", tmp_path / "m"), embedder=TrigramEmbedder())
    for eng in (local, milvus):
        eng.update([corpus])
    for q in QUERIES:
        for mode in ("hybrid", "dense", "bm25"):
            a, b = local.search(q, k=5, mode=mode), milvus.search(q, k=5, mode=mode)
            assert tied_groups(a) == tied_groups(b), (q, mode)
            np.testing.assert_allclose([p.score for p in a], [p.score for p in b], atol=1e-5)


DOC_D = """Huyện Đình Lập tổng kết công tác năm 2021

Tổng thu ngân sách trên địa bàn huyện Đình Lập đạt 120,5 tỷ đồng. Người dân ở xã Bắc Xa vui mừng.
"""


def test_milvus_ranks_like_local_after_adds_replacements_and_deletes(corpus, tmp_path):
    """The same sequence of writes into both engines (the local one in a segment per write,
    with tombstones): the same documents and chunks after every step, deleted text never
    returned, the same dense rankings; BM25 scores agree until the first delete, after which
    Milvus's BM25 statistics still count deleted rows until it compacts (milvus-lite never
    does) while the local index's are exact (tests/test_segments.py)."""
    from hoidap.config import SegmentConfig

    small = SegmentConfig(batch_chunks=100, merge_factor=1000, max_deleted=1.0)  # no merging
    local = QAEngine(replace(engine_config("local", tmp_path / "l"), segments=small),
                     embedder=TrigramEmbedder())
    milvus = QAEngine(engine_config("milvus-lite", tmp_path / "m"), embedder=TrigramEmbedder())
    extra = tmp_path / "extra"
    extra.mkdir()
    steps = [
        lambda e: e.update([corpus]),
        lambda e: e.update([write(extra, "b.txt", DOC_B.replace("1,29%", "1,5%"))]),  # replace
        lambda e: e.remove(["a"]),  # a delete
        lambda e: e.update([write(extra, "d.txt", DOC_D)]),  # an add
    ]
    for n, step in enumerate(steps):
        for eng in (local, milvus):
            step(eng)
        assert local.counts() == milvus.counts(), n
        assert [(d.doc_id, d.text) for d in local.documents()] == \
            [(d.doc_id, d.text) for d in milvus.documents()]
        for q in QUERIES:
            a, b = local.search(q, k=5, mode="dense"), milvus.search(q, k=5, mode="dense")
            assert tied_groups(a) == tied_groups(b), (n, q)
            a, b = local.search(q, k=50, mode="bm25"), milvus.search(q, k=50, mode="bm25")
            assert set(ids(a)) == set(ids(b)), (n, q)  # the same live chunks match
            assert "1,29%" not in " ".join(p.text for p in a) or n == 0
            assert n < 2 or "a" not in {p.doc_id for p in a}
            for mode in ("hybrid", "bm25") if n == 0 else ():
                a, b = local.search(q, k=5, mode=mode), milvus.search(q, k=5, mode=mode)
                assert tied_groups(a) == tied_groups(b), (n, q, mode)
                np.testing.assert_allclose([p.score for p in a], [p.score for p in b],
                                           atol=1e-5)
    assert len(local.index.segments) == 3 and local.index.manifest["tombstones"]["documents"] == 2


def test_backend_upsert_and_remove(config, corpus):
    """The write side of the seam, used directly."""
    from index.build import chunk_all
    from qa.search import make_query, open_engine, rank

    engine = QAEngine(config, embedder=HashEmbedder())
    engine.update([corpus])
    backend = open_engine(config)
    doc = backend.document("c")
    new = replace(doc, text=doc.text.replace("95%", "97%"), content_hash="x")
    chunks, texts = chunk_all([new], config)
    backend.upsert([new], chunks, HashEmbedder().encode_passages(texts), texts)
    backend.commit()
    assert backend.counts()[0] == 3
    assert "97%" in backend.document("c").text
    top = rank(backend, make_query("tiêm phòng 97%", backend), None, 3, None, "bm25",
               config.retrieval)
    assert top[0].doc_id == "c" and "97%" in top[0].text
    vec = HashEmbedder().encode_passages(texts[:1])[0]
    assert np.allclose(backend.cached_vectors([_hash(texts[0])])[_hash(texts[0])], vec)
    backend.delete(["a"])
    backend.commit()
    assert [d.doc_id for d in backend.documents()] == ["b", "c"]


def _hash(text: str) -> str:
    from index.segment import text_hash

    return text_hash(text)[:32]


def test_unknown_engine_is_an_input_error(tmp_path):
    engine = QAEngine(replace(Config(home=tmp_path), engine="elastic"), embedder=HashEmbedder())
    with pytest.raises(InputError, match="elastic"):
        engine.search("ngân sách")


# -- seeds QA with the real model -------------------------------------------------------------
SEEDS_QA = "eval/seeds_qa.jsonl"


@pytest.mark.model
def test_seeds_top_answers_agree(embedder, seeds_engine, tmp_path):
    """Milvus gives the same top answer as the local engine on every seeds question, and the
    same passages for the questions typed without diacritics."""
    milvus = QAEngine(engine_config("milvus-lite", tmp_path), embedder=embedder)
    milvus.update([default_corpus()])
    lines = shared_file(SEEDS_QA).read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    differ = []
    for q in questions:
        a, b = seeds_engine.ask(q), milvus.ask(q)
        top_a = None if a.no_answer else a.answers[0].text
        top_b = None if b.no_answer else b.answers[0].text
        if top_a != top_b or tied_groups(a.passages) != tied_groups(b.passages):
            differ.append((q, top_a, top_b))
    for q in map(fold, questions):
        if tied_groups(seeds_engine.search(q)) != tied_groups(milvus.search(q)):
            differ.append((q, "passages differ", ""))
    assert not differ, differ


# -- CLI --------------------------------------------------------------------------------------
def test_cli_milvus_round_trip(capsys, monkeypatch, corpus, tmp_path):
    """--engine/--milvus-uri options and HOIDAP_ENGINE/HOIDAP_MILVUS_URI select Milvus."""
    import index.embedder
    from hoidap.cli import main
    from tests.fake_cli import FakeEmbedder

    monkeypatch.setattr(index.embedder, "Embedder", FakeEmbedder)
    monkeypatch.setenv("HOIDAP_PARSE_TIMEOUT", "0")
    uri = str(tmp_path / "cli.db")
    assert main(["index", "build", str(corpus), "--engine", "milvus", "--milvus-uri", uri,
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["chunks"] > 0
    monkeypatch.setenv("HOIDAP_ENGINE", "milvus")
    monkeypatch.setenv("HOIDAP_MILVUS_URI", uri)
    assert main(["index", "info", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 3
    assert main(["search", "tong thu ngan sach", "--json", "--k", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["passages"][0]["doc_id"] == "a"
    assert main(["index", "build", "--remove", "a"]) == 0
    capsys.readouterr()
    assert main(["show", "--list", "--json"]) == 0
    assert [d["doc_id"] for d in json.loads(capsys.readouterr().out)] == ["b", "c"]
    assert main(["search", "ngân sách", "--engine", "local", "--index",
                 str(tmp_path / "none")]) == 2
    assert "no index" in capsys.readouterr().err


def test_rest_health_and_documents_on_every_engine(built):
    from fastapi.testclient import TestClient

    from ui.app import create_app

    client = TestClient(create_app(built, with_ui=False))
    health = client.get("/api/health").json()
    assert health["status"] == "ok" and health["engine"] == built.config.engine
    assert (health["documents"], health["chunks"]) == built.counts()
    assert [d["doc_id"] for d in client.get("/api/documents").json()] == sorted(
        d.doc_id for d in built.documents())

