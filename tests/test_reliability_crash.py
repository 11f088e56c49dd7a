"""Crash safety: SIGKILL during ``hoidap index build``, add/update/remove cycles, corrupt files.

The kill test runs the real CLI in a subprocess through ``python -m tests.fake_cli`` with
``HOIDAP_FAKE_EMBEDDER=1`` (fast fake vectors); the product CLI ignores that variable.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hoidap.config import Config
from hoidap.errors import IndexCorruptError, IndexStateError
from index.chunking import embedding_text
from index.store import current_version, load_index
from qa.engine import QAEngine
from qa.search.write import build_index
from tests.fakes import HashEmbedder

ROOT = Path(__file__).resolve().parent.parent
PLACES = ["Cao Lộc", "Ba Chẽ", "Đình Lập", "Lộc Bình", "Văn Lãng", "Tràng Định", "Chi Lăng",
          "Bình Gia", "Hữu Lũng", "Bắc Sơn"]


def doc_text(n: int, version: int = 0) -> str:
    """A small report; ``n`` picks the district, ``version`` changes the figures."""
    place = PLACES[n % len(PLACES)]
    return (f"Thứ sáu, {1 + n % 28:02d}/09/2021\n\nHuyện {place} tổng kết năm 2020 số {n}\n\n"
            f"Tổng thu ngân sách huyện {place} ước đạt {100 + n},{version} tỷ đồng, "
            f"mã{n}x{version}.\n\nTỷ lệ hộ nghèo của huyện {place} còn {n % 9},{version}%. "
            f"Người dân ở xã số {n} vui mừng.\n\n"
            + " ".join(f"Câu thứ {i} về huyện {place}." for i in range(30)))


def check_index(index_dir: Path, expected: set[str] | None = None) -> set[str]:
    """Load the index and check FAISS, BM25 and the document store agree, row by row."""
    index = load_index(index_dir)
    n = len(index.chunks)
    ids = [c.chunk_id for c in index.chunks]
    assert len(set(ids)) == n == index.dense.ntotal == index.embeddings.shape[0] == index.bm25.size
    assert {c.doc_id for c in index.chunks} == set(index.documents)  # no orphans, no empties
    per_doc = {d: sum(c.doc_id == d for c in index.chunks) for d in index.documents}
    assert {d: m["chunks"] for d, m in index.manifest["documents"].items()} == per_doc
    texts = [embedding_text(index.documents[c.doc_id], c) for c in index.chunks]
    assert np.allclose(np.asarray(index.embeddings), HashEmbedder().encode_passages(texts))
    if n:
        vecs = np.asarray(index.embeddings, dtype=np.float32)
        _, rows = index.dense.search(vecs, 1)
        assert (rows[:, 0] == np.arange(n)).mean() > 0.9  # FAISS row i is chunk i
        for i in random.Random(0).sample(range(n), min(n, 5)):
            assert index.bm25.scores(texts[i]).shape == (n,)
    if expected is not None:
        assert set(index.documents) == expected
    return set(index.documents)


# -- SIGKILL at random points -------------------------------------------------------------------
def _build_cmd(corpus: Path, index_dir: Path) -> list[str]:
    return [sys.executable, "-m", "tests.fake_cli", "index", "build", str(corpus), "--index",
            str(index_dir), "--fresh", "--json"]


def kill_loop(tmp_path: Path, rounds: int, seed: int) -> dict[str, int]:
    corpus, index_dir = tmp_path / "docs", tmp_path / "index"
    corpus.mkdir()
    for n in range(3):
        (corpus / f"d{n}.txt").write_text(doc_text(n), encoding="utf-8")
    config = Config(home=tmp_path, index_dir=index_dir)
    build_index([corpus], config, HashEmbedder())
    env = {**os.environ, "HOIDAP_FAKE_EMBEDDER": "1"}
    t0 = time.perf_counter()
    subprocess.run(_build_cmd(corpus, index_dir), cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    full = time.perf_counter() - t0
    rng = random.Random(seed)
    stats = {"kills": 0, "old_kept": 0, "new_seen": 0, "finished_first": 0, "mid_write": 0}
    for r in range(rounds):
        before = check_index(index_dir)
        for old in corpus.glob("e*.txt"):
            old.unlink()
        extra = corpus / f"e{r}.txt"
        extra.write_text(doc_text(10 + r), encoding="utf-8")
        after = {p.stem for p in corpus.iterdir()}
        temps = {p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-")}
        proc = subprocess.Popen(_build_cmd(corpus, index_dir), cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.1) * full)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            stats["kills"] += 1
        else:
            stats["finished_first"] += 1
        proc.wait()
        if {p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-")} - temps:
            stats["mid_write"] += 1  # killed while writing a version
        seen = check_index(index_dir)  # the index always loads, consistent
        assert seen in (before, after)
        stats["old_kept" if seen == before else "new_seen"] += 1
        engine = QAEngine(Config(home=tmp_path, index_dir=index_dir), embedder=HashEmbedder())
        assert engine.search("tổng thu ngân sách huyện", k=3)  # and answers
    proc = subprocess.run(_build_cmd(corpus, index_dir), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr  # the next build completes
    check_index(index_dir, {p.stem for p in corpus.iterdir()})
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert len([p for p in index_dir.iterdir() if p.name.startswith("v-")]) == 1
    stats["build_seconds_x1000"] = int(full * 1000)
    return stats


def test_sigkill_during_build_keeps_a_loadable_index(tmp_path):
    stats = kill_loop(tmp_path, rounds=5, seed=1)
    print("kill stats", stats)
    assert stats["kills"] + stats["finished_first"] == 5


@pytest.mark.slow
def test_sigkill_many_times(tmp_path):
    stats = kill_loop(tmp_path, rounds=40, seed=7)
    print("kill stats", stats)
    assert stats["kills"] >= 30 and stats["old_kept"] >= 1


# -- add / update / remove cycles ---------------------------------------------------------------
def test_add_update_remove_cycles_leave_no_duplicates_or_orphans(tmp_path):
    rng = random.Random(3)
    corpus = tmp_path / "docs"
    corpus.mkdir()
    config = Config(home=tmp_path, index_dir=tmp_path / "index")
    live: dict[str, int] = {}  # doc id -> version
    ops = {"add": 0, "update": 0, "remove": 0, "unchanged": 0}
    for step in range(24):
        op = ["add", "update", "add", "remove", "unchanged", "update"][step % 6] if live else "add"
        if op == "add":
            n = step
            live[f"d{n}"] = 0
            (corpus / f"d{n}.txt").write_text(doc_text(n), encoding="utf-8")
            build_index([corpus], config, HashEmbedder())
        elif op == "update":
            name = rng.choice(sorted(live))
            live[name] += 1
            (corpus / f"{name}.txt").write_text(doc_text(int(name[1:]), live[name]),
                                                encoding="utf-8")
            report = build_index([corpus], config, HashEmbedder())
            assert report.updated == (name,)
        elif op == "remove":
            name = rng.choice(sorted(live))
            del live[name]
            (corpus / f"{name}.txt").unlink()
            report = build_index([], config, HashEmbedder(), remove=[name])
            assert report.removed == (name,)
        else:
            emb = HashEmbedder()
            report = build_index([corpus], config, emb)
            assert not report.changed and emb.encoded == 0
        ops[op] += 1
        check_index(config.resolved_index_dir, set(live))
        index = load_index(config.resolved_index_dir)
        for name, version in live.items():
            assert f"mã{name[1:]}x{version}" in index.documents[name].text  # latest text only
    assert min(ops.values()) >= 2, ops


# -- corrupt files ------------------------------------------------------------------------------
def _version_files(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("probe")
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_text(doc_text(1), encoding="utf-8")
    build_index([root / "docs"], Config(home=root, index_dir=root / "i"), HashEmbedder())
    folder = current_version(root / "i")
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


VERSION_FILES = ["manifest.json", "documents.jsonl", "chunks.jsonl", "embeddings.npy",
                 "dense.faiss", "restore.json"] + [
    f"{b}/{f}" for b in ("bm25", "bm25_folded")
    for f in ("data.csc.index.npy", "indices.csc.index.npy", "indptr.csc.index.npy",
              "params.index.json", "vocab.index.json")] + ["bm25/size.txt"]


def test_version_file_list_is_complete(tmp_path_factory):
    assert _version_files(tmp_path_factory) == sorted(VERSION_FILES)


def _corrupt(path: Path, how: str) -> None:
    if how == "delete":
        path.unlink()
    elif how == "garbage":
        path.write_bytes(b"\x00\xffgarbage\x93NUMPY" * 7)
    else:  # truncate
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine")
    (root / "docs").mkdir()
    for n in range(3):
        (root / "docs" / f"d{n}.txt").write_text(doc_text(n), encoding="utf-8")
    build_index([root / "docs"], Config(home=root, index_dir=root / "index"), HashEmbedder())
    return root / "index"


@pytest.mark.parametrize("how", ["garbage", "truncate", "delete"])
@pytest.mark.parametrize("name", VERSION_FILES)
def test_each_corrupt_file_gives_a_rebuild_message(pristine, tmp_path, name, how):
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(pristine, index_dir)
    _corrupt(current_version(index_dir) / name, how)
    with pytest.raises(IndexStateError, match="rebuild it with: hoidap index build --fresh"):
        load_index(index_dir)
    engine = QAEngine(Config(home=tmp_path, index_dir=index_dir), embedder=HashEmbedder())
    from ui.app import create_app

    resp = TestClient(create_app(engine, with_ui=False)).post("/api/ask",
                                                              json={"question": "hộ nghèo?"})
    assert resp.status_code == 503 and "rebuild" in resp.json()["message"]


def test_corrupt_index_in_the_cli_exits_2_with_the_fix(pristine, tmp_path):
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(pristine, index_dir)
    _corrupt(current_version(index_dir) / "dense.faiss", "garbage")
    proc = subprocess.run([sys.executable, "-m", "tests.fake_cli", "ask", "hộ nghèo?", "--index",
                           str(index_dir)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "HOIDAP_FAKE_EMBEDDER": "1"}, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "hoidap index build --fresh" in proc.stderr
    with pytest.raises(IndexCorruptError):
        load_index(index_dir)
