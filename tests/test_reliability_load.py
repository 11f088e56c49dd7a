"""Concurrency: parallel asks are thread-safe, and indexing a big upload does not block them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from hoidap.config import Config, LimitsConfig
from index.commit import commit_stamp
from qa.engine import QAEngine
from qa.search.write import build_index
from tests.fakes import HashEmbedder
from tests.test_reliability_crash import doc_text
from ui.app import create_app

QUESTIONS = ["Tổng thu ngân sách huyện Cao Lộc ước đạt bao nhiêu?",
             "Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?",
             "Người dân ở xã số 3 thế nào?", "huyen Dinh Lap tong ket nam 2020",
             "Câu thứ 7 về huyện Lộc Bình"]


class SlowEmbedder(HashEmbedder):
    """Index builds take ``delay`` seconds per batch (queries stay fast), like a real model."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.building = threading.Event()

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None,
                        progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        if progress is None:  # the reader's calls, not a build
            return super().encode_passages(texts)
        self.building.set()
        size = batch_size or 16
        parts = []
        for start in range(0, len(texts), size):
            time.sleep(self.delay)
            parts.append(super().encode_passages(texts[start:start + size]))
            progress(min(start + size, len(texts)), len(texts))
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)


@pytest.fixture
def corpus(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    for n in range(5):
        (folder / f"d{n}.txt").write_text(doc_text(n), encoding="utf-8")
    return folder


def test_concurrent_asks_match_sequential_answers(corpus, tmp_path):
    config = Config(home=tmp_path, index_dir=tmp_path / "index")
    build_index([corpus], config, HashEmbedder())
    engine = QAEngine(config, embedder=HashEmbedder())
    expected = {q: engine.ask(q, k=3).to_dict() for q in QUESTIONS}
    fresh = QAEngine(config, embedder=HashEmbedder())  # first load races too
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda i: (QUESTIONS[i % 5], fresh.ask(QUESTIONS[i % 5], k=3)),
                                range(60)))
    assert all(r.to_dict() == expected[q] for q, r in results)


def test_asks_keep_answering_while_a_big_upload_is_indexed(corpus, tmp_path):
    config = Config(home=tmp_path, index_dir=tmp_path / "index")
    build_index([corpus], config, HashEmbedder())
    slow = SlowEmbedder(delay=0.05)
    engine = QAEngine(config, embedder=slow)
    old_docs = {d.doc_id for d in engine.documents()}
    upload = tmp_path / "upload"
    upload.mkdir()
    big = "\n\n".join(f"Đoạn {i}: huyện Hải Hà báo cáo mã số HH{i} về ngân sách và hộ nghèo. "
                      * 3 for i in range(500))
    (upload / "hai_ha.txt").write_text("Báo cáo huyện Hải Hà năm 2024\n\n" + big,
                                       encoding="utf-8")
    done: dict[str, object] = {}
    builder = threading.Thread(target=lambda: done.setdefault("report", engine.add([upload])))
    builder.start()
    assert slow.building.wait(30)
    old_commit = commit_stamp(config.resolved_index_dir)
    latencies, seen_before_commit, asks_before_commit = [], set(), 0
    while builder.is_alive():
        t0 = time.perf_counter()
        result = engine.ask(QUESTIONS[len(latencies) % 5], k=5)
        latencies.append(time.perf_counter() - t0)
        # the commit is what makes a version visible (to this engine and to other processes);
        # commits only move forward, so one still unchanged after the ask was so throughout it
        if commit_stamp(config.resolved_index_dir) == old_commit:
            seen_before_commit |= {p.doc_id for p in result.passages}
            asks_before_commit += 1
    builder.join()
    report = done["report"]
    assert report.added == ("hai_ha",) and report.embedded > 50  # a long build ...
    assert len(latencies) >= 10 and max(latencies) < 2.0  # ... during which asks kept going
    assert asks_before_commit >= 5 and seen_before_commit <= old_docs  # the old index until then
    hits = engine.search("mã số HH17 huyện Hải Hà", k=3)
    assert hits[0].doc_id == "hai_ha"  # the new one right after


def test_rest_asks_during_update(corpus, tmp_path):
    config = Config(home=tmp_path, index_dir=tmp_path / "index",
                    limits=LimitsConfig(rate_limit=0))
    build_index([corpus], config, HashEmbedder())
    slow = SlowEmbedder(delay=0.05)
    engine = QAEngine(config, embedder=slow)
    client = TestClient(create_app(engine, with_ui=False))
    extra = tmp_path / "more"
    extra.mkdir()
    for n in range(10, 30):
        (extra / f"m{n}.txt").write_text(doc_text(n), encoding="utf-8")
    builder = threading.Thread(target=engine.add, args=([extra],))
    builder.start()
    slow.building.wait(30)
    codes = []
    while builder.is_alive() or not codes:
        codes.append(client.post("/api/ask", json={"question": QUESTIONS[0]}).status_code)
    builder.join()
    assert set(codes) == {200}
    assert client.get("/api/health").json()["documents"] == 25


@pytest.mark.model
def test_concurrent_asks_with_the_real_model(seeds_engine):
    question = "Tổng thu ngân sách Nhà nước trên địa bàn huyện Cao Lộc năm 2020 ước đạt bao nhiêu?"
    expected = seeds_engine.ask(question).to_dict()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: seeds_engine.ask(question).to_dict(), range(24)))
    assert all(r == expected for r in results)
