"""Index folder: build, incremental rebuild, removal, atomic swap, manifest checks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hoidap.config import Config
from hoidap.errors import (
    DocumentNotFoundError,
    EmptyCorpusError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    InputError,
)
from index import segment, store
from index.commit import read_commit
from index.store import load_index
from qa.search.write import build_index
from tests.fakes import HashEmbedder

DOC_A = """Huyện Cao Lộc tổng kết năm 2020

24/09/2021 07:00

Tổng thu ngân sách Nhà nước trên địa bàn huyện ước đạt 452,2 tỷ đồng. Tổng sản lượng lương thực \
có hạt ước đạt 24.236 tấn.

Người dân ở xã Xuất Lễ và Tân Liên vui mừng vì xã đạt chuẩn nông thôn mới.
"""

DOC_B = """15/10/2020 08:00

Huyện Ba Chẽ họp Ban Chấp hành

Tỷ lệ hộ nghèo của huyện còn 1,29%. Diện tích trồng rừng tập trung đạt 3.772 ha.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    write(folder, "a.txt", DOC_A)
    write(folder, "b.txt", DOC_B)
    return folder


def current_version(index_dir: Path) -> int:
    """The current commit's generation (changes with every commit)."""
    return read_commit(index_dir).generation


def vectors(index) -> np.ndarray:
    """The live rows' vectors in row-space order."""
    return np.concatenate([np.asarray(s.embeddings)[rows]
                           for s, rows in zip(index.segments, index.live_rows, strict=True)])


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(home=tmp_path / "home", index_dir=tmp_path / "idx")


def consistent(index) -> None:
    """Every store agrees on the chunk rows; every chunk is an exact slice of its document."""
    n = len(index.chunks)
    assert sum(s.dense.ntotal for s in index.segments) >= n == vectors(index).shape[0]
    assert n == index.bm25.size
    assert len({c.chunk_id for c in index.chunks}) == n
    assert {c.doc_id for c in index.chunks} == set(index.documents)
    for c in index.chunks:
        assert index.documents[c.doc_id].text[c.start:c.end] == c.text
    assert index.manifest["counts"] == {"documents": len(index.documents), "chunks": n}


def test_build_and_load(corpus, config):
    report = build_index([corpus], config, HashEmbedder())
    assert sorted(report.added) == ["a", "b"]
    index = load_index(config.resolved_index_dir)
    consistent(index)
    assert index.documents["a"].date == "2021-09-24"  # the byline (no day in the lead)
    manifest = index.manifest
    assert manifest["format_version"] == store.FORMAT_VERSION == 2
    assert manifest["dim"] == 384
    assert set(manifest["documents"]) == {"a", "b"}
    assert manifest["chunking"]["max_chars"] == config.chunking.max_chars


def test_rebuild_unchanged_embeds_nothing(corpus, config):
    build_index([corpus], config, HashEmbedder())
    version = current_version(config.resolved_index_dir)
    emb = HashEmbedder()
    report = build_index([corpus], config, emb)
    assert sorted(report.unchanged) == ["a", "b"] and report.embedded == 0
    assert emb.encoded == 0
    assert current_version(config.resolved_index_dir) == version  # nothing rewritten


def test_changed_document_is_replaced_and_only_its_chunks_embedded(corpus, config):
    build_index([corpus], config, HashEmbedder())
    write(corpus, "b.txt", DOC_B.replace("1,29%", "1,3%"))
    emb = HashEmbedder()
    report = build_index([corpus], config, emb)
    assert report.updated == ("b",) and report.unchanged == ("a",)
    index = load_index(config.resolved_index_dir)
    consistent(index)
    assert 0 < emb.encoded <= sum(c.doc_id == "b" for c in index.chunks)
    assert "1,3%" in index.documents["b"].text


def test_remove_leaves_no_orphans(corpus, config):
    build_index([corpus], config, HashEmbedder())
    report = build_index([], config, HashEmbedder(), remove=["a"])
    assert report.removed == ("a",)
    index = load_index(config.resolved_index_dir)
    consistent(index)
    assert set(index.documents) == {"b"}
    with pytest.raises(DocumentNotFoundError, match="zzz"):
        build_index([], config, HashEmbedder(), remove=["zzz"])


def test_interrupted_build_keeps_old_index(corpus, config, monkeypatch):
    build_index([corpus], config, HashEmbedder())
    before = load_index(config.resolved_index_dir)

    real = segment.make_dense

    def boom(spec, dim):  # killed half-way through writing the new segment
        real(spec, dim)
        raise RuntimeError("killed")

    monkeypatch.setattr(segment, "make_dense", boom)
    write(corpus, "c.txt", "Tiêu đề mới\n\nMột văn bản mới về huyện Đình Lập.")
    with pytest.raises(RuntimeError):
        build_index([corpus], config, HashEmbedder())
    monkeypatch.undo()
    after = load_index(config.resolved_index_dir)
    assert set(after.documents) == set(before.documents) == {"a", "b"}
    build_index([corpus], config, HashEmbedder())  # next build completes and sweeps leftovers
    assert set(load_index(config.resolved_index_dir).documents) == {"a", "b", "c"}
    leftovers = [p.name for p in config.resolved_index_dir.iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []


def test_missing_index_says_how_to_build(config):
    with pytest.raises(IndexNotFoundError, match="hoidap index build"):
        load_index(config.resolved_index_dir)


def test_outdated_manifest_says_how_to_rebuild(corpus, config):
    build_index([corpus], config, HashEmbedder())
    path = config.resolved_index_dir / "COMMIT"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 0
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexVersionError, match="--fresh"):
        load_index(config.resolved_index_dir)


def test_corrupt_file_gives_clear_error(corpus, config):
    build_index([corpus], config, HashEmbedder())
    seg = read_commit(config.resolved_index_dir).segments[0]
    (config.resolved_index_dir / seg / "embeddings.npy").write_bytes(b"\x00garbage")
    with pytest.raises(IndexCorruptError, match="rebuild"):
        load_index(config.resolved_index_dir)


def test_empty_corpus(tmp_path, config):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(EmptyCorpusError):
        build_index([empty], config, HashEmbedder())


def test_bad_files_are_listed_and_build_goes_on(corpus, config):
    (corpus / "garbage.txt").write_bytes(bytes(range(256)) * 20)
    (corpus / "notes.xyz").write_text("x")
    report = build_index([corpus, corpus / "missing.txt"], config, HashEmbedder())
    reasons = dict(report.failed)
    assert sorted(report.added) == ["a", "b"]
    assert any("garbage.txt" in p for p in reasons)
    assert any("missing.txt" in p for p in reasons)
    assert any("notes.xyz" in p for p in reasons)


def test_vectors_reused_match_fresh_embedding(corpus, config):
    build_index([corpus], config, HashEmbedder())
    write(corpus, "c.txt", "Tiêu đề\n\nVăn bản thứ ba ở huyện Lộc Bình.")
    build_index([corpus], config, HashEmbedder())
    index = load_index(config.resolved_index_dir)
    from index.chunking import embedding_text

    emb = HashEmbedder()
    texts = [embedding_text(index.documents[c.doc_id], c) for c in index.chunks]
    assert np.allclose(vectors(index), emb.encode_passages(texts))


def test_stale_commit_file_from_a_killed_build_is_swept(corpus, config):
    build_index([corpus], config, HashEmbedder())
    stale = config.resolved_index_dir / ".COMMIT.99"
    stale.write_text("{half", encoding="utf-8")
    write(corpus, "c.txt", "Tiêu đề\n\nVăn bản mới ở huyện Văn Lãng.")
    build_index([corpus], config, HashEmbedder())
    assert not stale.exists()
    assert sorted(p.name for p in config.resolved_index_dir.iterdir() if p.is_file()) == [
        "COMMIT", "write.lock"]


def test_dense_spec_by_size() -> None:
    from hoidap.config import VectorIndexConfig

    cfg = VectorIndexConfig(exact_below=100, hnsw_m=16, ef_construction=40, ef_search=64)
    assert segment.dense_spec(99, cfg) == {"kind": "flat"}
    assert segment.dense_spec(100, cfg) == {"kind": "hnsw", "m": 16, "ef_construction": 40,
                                          "ef_search": 64}


def test_large_index_uses_hnsw_with_exact_results(corpus, config, tmp_path):
    from dataclasses import replace

    from hoidap.config import VectorIndexConfig
    from qa.engine import QAEngine

    build_index([corpus], config, HashEmbedder())
    flat = QAEngine(config, embedder=HashEmbedder())
    small = replace(config, index_dir=tmp_path / "hnsw",
                    vectors=VectorIndexConfig(exact_below=1, ef_search=50))
    build_index([corpus], small, HashEmbedder())
    index = load_index(small.resolved_index_dir)
    consistent(index)
    assert index.manifest["dense"]["kind"] == "hnsw"
    dense = index.segments[0].dense
    assert type(dense).__name__ == "IndexHNSWFlat" and dense.hnsw.efSearch == 50
    assert load_index(config.resolved_index_dir).manifest["dense"] == {"kind": "flat"}
    hnsw = QAEngine(small, embedder=HashEmbedder())
    for q in ("Tỷ lệ hộ nghèo của huyện?", "tổng thu ngân sách 452,2 tỷ đồng"):
        a = [p.chunk_id for p in flat.search(q, k=3, mode="dense")]
        b = [p.chunk_id for p in hnsw.search(q, k=3, mode="dense")]
        assert a == b  # a tiny graph is searched exhaustively


def test_user_date_is_set_without_re_embedding_and_outlives_rebuilds(corpus, config):
    build_index([corpus], config, HashEmbedder())
    before = load_index(config.index_dir)
    assert before.documents["a"].date == "2021-09-24"
    report = build_index([], config, HashEmbedder(), dates={"a": "2020-12-20"})
    assert report.updated == ("a",) and report.embedded == 0
    after = load_index(config.index_dir)
    a = after.documents["a"]
    assert (a.date, a.date_source, a.published) == ("2020-12-20", "user", "2021-09-24")
    def by_id(ix):
        return ({c.chunk_id: v.tobytes() for c, v in zip(ix.chunks, vectors(ix),
                                                                      strict=True)})
    assert by_id(after) == by_id(before)  # the re-dated document's vectors were re-used
    consistent(after)
    again = build_index([corpus], config, HashEmbedder())  # re-reading the file keeps it
    assert again.unchanged == ("a", "b") and again.embedded == 0
    assert load_index(config.index_dir).documents["a"].date == "2020-12-20"


@pytest.mark.parametrize(("dates", "error"), [
    ({"nope": "2020-01-01"}, DocumentNotFoundError),
    ({"a": "20/12/2020"}, InputError),
    ({"a": "2020-02-30"}, InputError),
])
def test_bad_user_dates_are_refused_and_change_nothing(corpus, config, dates, error):
    build_index([corpus], config, HashEmbedder())
    version = current_version(config.index_dir)
    with pytest.raises(error, match="--date"):
        build_index([], config, HashEmbedder(), dates=dates)
    assert current_version(config.index_dir) == version
