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
from index.commit import read_commit
from index.segment import SEGMENT_FILES
from index.store import load_index
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
    """Load the index and check FAISS, BM25, vectors and the document store agree, segment
    by segment, row by row; no document twice, none without its chunks."""
    index = load_index(index_dir)
    n = len(index.chunks)
    ids = [c.chunk_id for c in index.chunks]
    assert len(set(ids)) == n == index.bm25.size == int(index.offsets[-1])
    assert {c.doc_id for c in index.chunks} == set(index.documents)  # no orphans, no empties
    per_doc = {d: sum(c.doc_id == d for c in index.chunks) for d in index.documents}
    assert {d: m["chunks"] for d, m in index.manifest["documents"].items()} == per_doc
    texts = [embedding_text(index.documents[c.doc_id], c) for c in index.chunks]
    vectors = [np.asarray(seg.embeddings)[rows]
               for seg, rows in zip(index.segments, index.live_rows, strict=True)]
    if n:
        assert np.allclose(np.concatenate(vectors), HashEmbedder().encode_passages(texts))
    for seg in index.segments:
        assert seg.dense.ntotal == seg.embeddings.shape[0] == seg.size
        vecs = np.asarray(seg.embeddings, dtype=np.float32)
        _, rows = seg.dense.search(vecs, 1)
        scores = vecs @ vecs.T
        assert all(scores[i, r] >= scores[i, i] - 1e-5 for i, r in enumerate(rows[:, 0]))
    for i in random.Random(0).sample(range(n), min(n, 5)):
        assert index.bm25.scores(texts[i]).shape == (n,)
    if expected is not None:
        assert set(index.documents) == expected
    return set(index.documents)


def segment_folders(index_dir: Path) -> set[str]:
    """Segment folders on disk."""
    return {p.name for p in index_dir.iterdir() if p.name.startswith("seg-")}


# -- SIGKILL at random points -------------------------------------------------------------------
def _build_cmd(corpus: Path, index_dir: Path, fresh: bool = True) -> list[str]:
    return [sys.executable, "-m", "tests.fake_cli", "index", "build", str(corpus), "--index",
            str(index_dir), "--json"] + (["--fresh"] if fresh else [])


# small segments and merges on every build, and slow segment writes (tests/fake_cli.py), so
# most kills land inside a segment write or a merge rather than in start-up
SEGMENT_ENV = {"HOIDAP_FAKE_EMBEDDER": "1", "HOIDAP_SEGMENT_CHUNKS": "3",
               "HOIDAP_MERGE_FACTOR": "3", "HOIDAP_FAKE_WRITE_DELAY": "0.05"}


def kill_loop(tmp_path: Path, rounds: int, seed: int, fresh: bool = True) -> dict[str, int]:
    """Kill builds at random points; a fresh build shows the old or the new corpus, an
    incremental one any state between (each document whole)."""
    corpus, index_dir = tmp_path / "docs", tmp_path / "index"
    corpus.mkdir(parents=True)
    for n in range(3):
        (corpus / f"d{n}.txt").write_text(doc_text(n), encoding="utf-8")
    config = Config(home=tmp_path, index_dir=index_dir)
    build_index([corpus], config, HashEmbedder())
    env = {**os.environ, **SEGMENT_ENV}
    t0 = time.perf_counter()
    subprocess.run(_build_cmd(corpus, index_dir), cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    full = time.perf_counter() - t0
    rng = random.Random(seed)
    stats = {"kills": 0, "old_kept": 0, "new_seen": 0, "between": 0, "finished_first": 0,
             "mid_write": 0, "orphans_left": 0}
    for r in range(rounds):
        before = check_index(index_dir)
        for old in corpus.glob("e*.txt") if fresh else ():
            old.unlink()
        for k in range(1 if fresh else 3):
            (corpus / f"e{r}-{k}.txt").write_text(doc_text(10 + 3 * r + k), encoding="utf-8")
        after = {p.stem for p in corpus.iterdir()}
        proc = subprocess.Popen(_build_cmd(corpus, index_dir, fresh), cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.1) * full)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            stats["kills"] += 1
        else:
            stats["finished_first"] += 1
        proc.wait()
        leftovers = {p.name for p in index_dir.iterdir() if p.name.startswith(".tmp-")}
        stats["mid_write"] += bool(leftovers)  # killed while writing a segment
        seen = check_index(index_dir)  # the last commit always loads, whole and consistent
        named = set(read_commit(index_dir).segments)
        assert named <= segment_folders(index_dir)
        stats["orphans_left"] += bool(segment_folders(index_dir) - named)
        if fresh:
            assert seen in (before, after)
            stats["old_kept" if seen == before else "new_seen"] += 1
        else:
            assert before <= seen <= after
            stats["old_kept" if seen == before else "new_seen" if seen == after
                  else "between"] += 1
        engine = QAEngine(Config(home=tmp_path, index_dir=index_dir), embedder=HashEmbedder())
        assert engine.search("tổng thu ngân sách huyện", k=3)  # and answers
    proc = subprocess.run(_build_cmd(corpus, index_dir, fresh), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr  # the next build completes
    check_index(index_dir, {p.stem for p in corpus.iterdir()})
    assert not [p for p in index_dir.iterdir() if p.name.startswith(".tmp-")]
    assert segment_folders(index_dir) == set(read_commit(index_dir).segments)  # swept
    stats["build_seconds_x1000"] = int(full * 1000)
    return stats


def test_sigkill_during_build_keeps_a_loadable_index(tmp_path):
    stats = kill_loop(tmp_path, rounds=5, seed=1)
    print("kill stats", stats)
    assert stats["kills"] + stats["finished_first"] == 5


def test_sigkill_during_incremental_segment_writes_and_merges(tmp_path):
    stats = kill_loop(tmp_path, rounds=6, seed=4, fresh=False)
    print("kill stats", stats)
    assert stats["kills"] + stats["finished_first"] == 6


@pytest.mark.slow
def test_sigkill_many_times(tmp_path):
    stats = kill_loop(tmp_path, rounds=40, seed=7)
    print("kill stats", stats)
    assert stats["kills"] >= 30 and stats["old_kept"] >= 1
    stats = kill_loop(tmp_path / "incremental", rounds=30, seed=8, fresh=False)
    print("kill stats (incremental)", stats)
    assert stats["kills"] >= 20 and stats["mid_write"] >= 1


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
def _segment_files(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("probe")
    (root / "docs").mkdir()
    (root / "docs" / "a.txt").write_text(doc_text(1), encoding="utf-8")
    build_index([root / "docs"], Config(home=root, index_dir=root / "i"), HashEmbedder())
    [folder] = [root / "i" / n for n in read_commit(root / "i").segments]
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


VERSION_FILES = sorted(SEGMENT_FILES)


def test_segment_file_list_is_complete(tmp_path_factory):
    assert _segment_files(tmp_path_factory) == VERSION_FILES


def _first_segment(index_dir: Path) -> Path:
    return index_dir / read_commit(index_dir).segments[0]


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
    _corrupt(_first_segment(index_dir) / name, how)
    with pytest.raises(IndexStateError, match="rebuild it with: hoidap index build --fresh"):
        load_index(index_dir)
    engine = QAEngine(Config(home=tmp_path, index_dir=index_dir), embedder=HashEmbedder())
    from ui.app import create_app

    resp = TestClient(create_app(engine, with_ui=False)).post("/api/ask",
                                                              json={"question": "hộ nghèo?"})
    assert resp.status_code == 503 and "rebuild" in resp.json()["message"]


@pytest.mark.parametrize("how", ["garbage", "truncate", "delete"])
def test_a_corrupt_commit_file_gives_a_rebuild_message(pristine, tmp_path, how):
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(pristine, index_dir)
    _corrupt(index_dir / "COMMIT", how)
    with pytest.raises(IndexStateError, match="hoidap index build"):
        load_index(index_dir)


def test_corrupt_index_in_the_cli_exits_2_with_the_fix(pristine, tmp_path):
    import shutil

    index_dir = tmp_path / "index"
    shutil.copytree(pristine, index_dir)
    _corrupt(_first_segment(index_dir) / "dense.faiss", "garbage")
    proc = subprocess.run([sys.executable, "-m", "tests.fake_cli", "ask", "hộ nghèo?", "--index",
                           str(index_dir)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "HOIDAP_FAKE_EMBEDDER": "1"}, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "hoidap index build --fresh" in proc.stderr
    with pytest.raises(IndexCorruptError):
        load_index(index_dir)
