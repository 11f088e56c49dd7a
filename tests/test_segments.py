"""Segments: one index split into many ranks exactly as one; merges, tombstones, commits."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hoidap.config import Config, SegmentConfig
from hoidap.errors import IndexVersionError
from index.build import collect_documents
from index.commit import read_commit
from index.merge import SegmentSize, plan_merges, tier
from index.postings import build_postings, idf, merge_postings
from index.store import open_index
from index.text import tokens
from qa.engine import QAEngine
from qa.search.local import LocalEngine
from qa.search.query import make_query
from qa.search.write import _write_batches, build_index
from qa.types import Filters
from tests.fakes import HashEmbedder
from tests.test_reliability_crash import doc_text

QUERIES = ["tổng thu ngân sách huyện Cao Lộc", "tỷ lệ hộ nghèo còn bao nhiêu", "hộ nghèo",
           "tong thu ngan sach huyen", "Người dân ở xã vui mừng", "Câu thứ 7 về huyện Bắc Sơn",
           "mã3x1", "ở"]
NO_MERGE = SegmentConfig(batch_chunks=12, merge_factor=1000)


# -- postings -------------------------------------------------------------------------------
def test_postings_count_terms_and_merge_keeps_rows_in_order():
    rows = [["ở", "xã", "ở"], ["huyện", "xã"], ["3,5%"], []]
    p = build_postings(rows)
    assert p.size == 4 and list(p.doclen) == [3, 2, 1, 0]
    r, tf = p.slice("ở")
    assert list(r) == [0] and list(tf) == [2]
    assert list(p.slice("xã")[0]) == [0, 1] and len(p.slice("không")[0]) == 0
    merged = merge_postings([(p, np.array([1, 2])), (build_postings([["xã", "ở"]]), np.array([0]))])
    direct = build_postings([rows[1], rows[2], ["xã", "ở"]])
    for term in ("xã", "ở", "huyện", "3,5%"):
        assert [list(a) for a in merged.slice(term)] == [list(a) for a in direct.slice(term)]
    assert list(merged.doclen) == list(direct.doclen)


def test_idf_is_lucenes():
    assert idf(1, 10) == pytest.approx(np.log(1 + 9.5 / 1.5))


# -- merge policy (pure) ----------------------------------------------------------------------
def test_policy_merges_a_full_tier_only():
    config = SegmentConfig(merge_factor=10, merge_floor=1000)
    small = [SegmentSize(f"s{i}", 500, 500) for i in range(9)]
    assert plan_merges(small, config) == []
    assert plan_merges([*small, SegmentSize("s9", 400, 400)], config) == [
        tuple(f"s{i}" for i in range(10))]
    assert tier(9_999, config) == 0 and tier(10_000, config) == 1 and tier(100_000, config) == 2


def test_policy_rewrites_a_segment_with_many_deletions():
    config = SegmentConfig(merge_factor=3, merge_floor=10, max_deleted=0.2)
    assert plan_merges([SegmentSize("big", 70, 100), SegmentSize("ok", 90, 100)], config) == [
        ("big",)]
    sizes = [SegmentSize("a", 100, 100), SegmentSize("b", 100, 100),  # tier 1
             *(SegmentSize(f"t{i}", 10, 10) for i in range(7))]  # tier 0
    assert plan_merges(sizes, config) == [("t0", "t1", "t2"), ("t3", "t4", "t5")]


# -- one segment vs many ----------------------------------------------------------------------
def _docs(folder: Path, ns: range, version: int = 0) -> None:
    folder.mkdir(exist_ok=True)
    for n in ns:
        (folder / f"d{n}.txt").write_text(doc_text(n, version), encoding="utf-8")


@pytest.fixture(scope="module")
def pair(tmp_path_factory) -> tuple[Config, Config]:
    """The same live documents as one segment and as many (added in steps, some replaced,
    some removed, tombstones not merged away)."""
    root = tmp_path_factory.mktemp("pair")
    many = Config(home=root, index_dir=root / "many", segments=NO_MERGE)
    src = root / "src"
    for step in range(4):
        _docs(src, range(step * 6, step * 6 + 6))
        build_index([src], many, HashEmbedder())
    _docs(src, range(3, 9), version=2)  # replacements
    build_index([src], many, HashEmbedder())
    build_index([], many, HashEmbedder(), remove=["d1", "d10", "d20"])
    for name in ("d1", "d10", "d20"):
        (src / f"{name}.txt").unlink()
    one = Config(home=root, index_dir=root / "one", segments=SegmentConfig(batch_chunks=10**6))
    build_index([src], one, HashEmbedder(), fresh=True)
    return one, many


def _rankings(config: Config, text: str, filters: Filters | None = None) -> dict:
    engine = LocalEngine.open(config)
    query = make_query(text, engine)
    vec = HashEmbedder().encode_queries([query.restored])
    got = engine.rankings(query, vec, 10, filters, ("dense", "bm25"))
    return {k: [(p.chunk_id, p.score) for p in v] for k, v in got.items()}


def _same(a: dict, b: dict) -> None:
    for name in ("dense", "bm25"):
        assert [i for i, _ in a[name]] == [i for i, _ in b[name]], name
        assert np.allclose([s for _, s in a[name]], [s for _, s in b[name]], atol=1e-5), name


def test_many_segments_hold_the_same_live_content(pair):
    one, many = pair
    a, b = open_index(one.resolved_index_dir), open_index(many.resolved_index_dir)
    assert len(a.segments) == 1 and len(b.segments) > 3
    assert b.manifest["tombstones"]["documents"] > 0
    assert a.documents == b.documents
    assert sorted(c.chunk_id for c in a.chunks) == sorted(c.chunk_id for c in b.chunks)
    assert a.bm25.size == b.bm25.size == len(b.chunks)
    assert a.bm25.avgdl == pytest.approx(b.bm25.avgdl, abs=1e-9)


@pytest.mark.parametrize("text", QUERIES)
def test_many_segments_rank_exactly_as_one(pair, text):
    one, many = pair
    _same(_rankings(one, text), _rankings(many, text))


@pytest.mark.parametrize("filters", [Filters(doc_ids=frozenset({"d3", "d4", "d12", "d22"})),
                                     Filters(date_from="2021-09-05", date_to="2021-09-15")])
def test_filters_rank_exactly_as_one(pair, filters):
    one, many = pair
    for text in QUERIES[:4]:
        _same(_rankings(one, text, filters), _rankings(many, text, filters))


def test_fused_answers_agree(pair):
    one, many = pair
    a = QAEngine(one, embedder=HashEmbedder())
    b = QAEngine(many, embedder=HashEmbedder())
    for text in QUERIES:
        assert [(p.chunk_id, round(p.score, 6)) for p in a.search(text, k=10)] == \
            [(p.chunk_id, round(p.score, 6)) for p in b.search(text, k=10)]


def test_optimize_merges_into_one_without_re_embedding(pair, tmp_path):
    import shutil

    one, many = pair
    shutil.copytree(many.resolved_index_dir, tmp_path / "opt")
    config = replace(many, index_dir=tmp_path / "opt")
    engine = LocalEngine.open(config)
    before = len(engine.index.segments)
    with engine.writing():
        pass  # the policy alone merges nothing here (factor 1000)
    assert len(engine.index.segments) == before
    groups = engine.maintain(everything=True)
    assert len(groups) == 1 and len(groups[0]) == before
    index = open_index(config.resolved_index_dir)
    assert len(index.segments) == 1 and index.manifest["tombstones"]["chunks"] == 0
    assert sorted(p.name for p in config.resolved_index_dir.glob("seg-*")) == [
        index.segments[0].name]  # the merged-away segments are swept
    for text in QUERIES:
        _same(_rankings(one, text), _rankings(config, text))


def test_policy_runs_at_the_end_of_a_build(tmp_path):
    config = Config(home=tmp_path, index_dir=tmp_path / "i",
                    segments=SegmentConfig(batch_chunks=4, merge_factor=3, merge_floor=10))
    src = tmp_path / "src"
    for step in range(4):
        _docs(src, [step])
        build_index([src], config, HashEmbedder())
    index = open_index(config.resolved_index_dir)
    assert len(index.segments) < 4 and set(index.documents) == {"d0", "d1", "d2", "d3"}
    for step in range(4, 12):
        _docs(src, [step])
        build_index([src], config, HashEmbedder())
    index = open_index(config.resolved_index_dir)
    sizes = [len(r) for r in index.live_rows]
    assert len(sizes) <= 3 and max(sizes) > 12  # merged segments merged again
    assert set(index.documents) == {f"d{i}" for i in range(12)}


# -- commits ----------------------------------------------------------------------------------
def test_a_running_engine_picks_up_a_commit_reading_only_new_segments(tmp_path):
    config = Config(home=tmp_path, index_dir=tmp_path / "i", segments=NO_MERGE)
    src = tmp_path / "src"
    _docs(src, range(3))
    build_index([src], config, HashEmbedder())
    engine = QAEngine(config, embedder=HashEmbedder())
    assert engine.counts()[0] == 3
    old = {s.name: s for s in engine.index.segments}
    gen = read_commit(config.resolved_index_dir).generation
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "moi.txt").write_text(
        "Báo cáo mới\n\nHuyện Đình Lập đạt 3,5% tăng trưởng ở xã Bắc Xa.", encoding="utf-8")
    build_index([tmp_path / "new"], config, HashEmbedder())  # another writer, same folder
    assert read_commit(config.resolved_index_dir).generation == gen + 1
    hits = engine.search("Đình Lập 3,5% Bắc Xa", k=1)  # no reload() called
    assert hits[0].doc_id == "moi" and engine.counts()[0] == 4
    assert all(engine.index.segments[i] is old[s.name]
               for i, s in enumerate(engine.index.segments) if s.name in old)
    build_index([], config, HashEmbedder(), remove=["moi"])
    assert "moi" not in {p.doc_id for p in engine.search("Đình Lập 3,5% Bắc Xa", k=5)}


def test_old_format_index_gets_a_clear_message(tmp_path):
    folder = tmp_path / "old"
    (folder / "v-1").mkdir(parents=True)
    (folder / "CURRENT").write_text("v-1\n", encoding="utf-8")
    with pytest.raises(IndexVersionError, match="format version 1.*hoidap index upgrade"):
        LocalEngine.open(Config(home=tmp_path, index_dir=folder))


def test_a_killed_fresh_build_resumes_without_re_embedding(tmp_path):
    config = Config(home=tmp_path, index_dir=tmp_path / "i", segments=NO_MERGE)
    src = tmp_path / "src"
    _docs(src, range(6))
    engine = LocalEngine(None, config).writer(fresh=True)
    docs, _ = collect_documents([src])
    _write_batches(engine, [(d, 0.5) for d in docs[:4]], config, HashEmbedder(), None,
                   commit_each=False)
    # killed here: segments written, no commit names them
    assert list(config.resolved_index_dir.glob("seg-*"))
    emb = HashEmbedder()
    report = build_index([src], config, emb, fresh=True)
    assert report.embedded == emb.encoded == sum(
        m["chunks"] for d, m in open_index(config.resolved_index_dir).manifest["documents"].items()
        if d in {"d4", "d5"})
    assert len(list(config.resolved_index_dir.glob("seg-*"))) == len(
        read_commit(config.resolved_index_dir).segments)  # leftovers swept


def test_tokens_keep_one_letter_words():
    assert "ở" in tokens("Người dân ở xã")


# -- CLI: info, optimize, upgrade -------------------------------------------------------------
def _cli(capsys, *argv: str) -> tuple[int, str]:
    from hoidap.cli import main

    code = main(list(argv))
    return code, capsys.readouterr().out


def test_info_and_optimize_from_the_cli(pair, tmp_path, capsys):
    import json
    import shutil

    _, many = pair
    folder = tmp_path / "cli"
    shutil.copytree(many.resolved_index_dir, folder)
    code, out = _cli(capsys, "index", "info", "--index", str(folder), "--json")
    info = json.loads(out)
    assert code == 0 and len(info["segments"]) > 3 and info["tombstones"]["documents"] >= 1
    code, out = _cli(capsys, "index", "optimize", "--index", str(folder))
    assert code == 0 and "1 segments (0 deleted chunks" in out
    code, out = _cli(capsys, "index", "info", "--index", str(folder))
    assert "format 2" in out and f"{info['counts']['chunks']} chunks in 1 segments" in out


def _format_1(index: object, folder: Path) -> None:
    """Write ``index`` the way format 1 stored it: one version folder and ``CURRENT``."""
    import json
    from dataclasses import asdict

    from index.chunking import embedding_text
    from index.segment import text_hash

    version = folder / "v-20260101000000-abcdef12"
    version.mkdir(parents=True)
    docs = index.documents
    with (version / "documents.jsonl").open("w", encoding="utf-8") as f:
        for d in docs.values():
            f.write(json.dumps(asdict(d), ensure_ascii=False) + "\n")
    with (version / "chunks.jsonl").open("w", encoding="utf-8") as f:
        for c in index.chunks:
            f.write(json.dumps({"id": c.chunk_id, "doc_id": c.doc_id, "start": c.start,
                                "end": c.end, "paragraph": c.paragraph, "embed_hash": text_hash(
                                    embedding_text(docs[c.doc_id], c))[:32]}) + "\n")
    vecs = np.concatenate([np.asarray(s.embeddings)[r]
                           for s, r in zip(index.segments, index.live_rows, strict=True)])
    np.save(version / "embeddings.npy", vecs)
    (version / "manifest.json").write_text(json.dumps(
        {"format_version": 1, "model_id": index.commit.model_id, "dim": index.commit.dim,
         "chunking": index.commit.chunking}), encoding="utf-8")
    (folder / "CURRENT").write_text(version.name + "\n", encoding="utf-8")


def test_upgrade_converts_a_format_1_index_without_re_embedding(pair, tmp_path, capsys):
    one, _ = pair
    old = tmp_path / "old"
    _format_1(open_index(one.resolved_index_dir), old)
    from hoidap.cli import main

    code = main(["search", "hộ nghèo", "--index", str(old)])
    assert code == 2 and "hoidap index upgrade --index" in capsys.readouterr().err
    code, out = _cli(capsys, "index", "upgrade", "--index", str(old))
    assert code == 0 and "nothing re-embedded" in out
    assert not (old / "CURRENT").exists() and not list(old.glob("v-*"))
    upgraded = replace(one, index_dir=old)
    for text in QUERIES:
        _same(_rankings(one, text), _rankings(upgraded, text))


def test_spelling_table_over_segments_matches_one_table(tmp_path):
    from index.chunking import embedding_text
    from index.restore import build_table

    config = Config(home=tmp_path, index_dir=tmp_path / "i", segments=NO_MERGE)
    src = tmp_path / "src"
    for step in range(3):
        _docs(src, range(step * 4, step * 4 + 4))
        build_index([src], config, HashEmbedder())
    index = open_index(config.resolved_index_dir)
    assert len(index.segments) > 2
    texts = [embedding_text(index.documents[c.doc_id], c) for c in index.chunks]
    expected = build_table(texts)
    table = index.restore_table
    assert {k: table.get(k) for k in expected} == expected
    assert table.get("huyen") == "huyện" and table.get("zzzz") is None
    assert dict(table) == expected
