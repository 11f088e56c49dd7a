"""Live index: how fast one new report becomes answerable in a large index, and goes away.

    .venv/bin/python bench/live.py --index DIR [--runs 3]

``DIR`` (e.g. the 20k-article index ``bench/scale.py --keep`` leaves) is copied to a temporary
folder first, since the bench changes it. A warm ``QAEngine`` on the copy plays the running
server: it is never told to reload, it picks up commits by itself. Each run times

* ``cli add``: ``hoidap index build REPORT --index COPY --json`` in a new process (Python start,
  model load, reading, chunking, embedding ~5 chunks, writing a segment and the commit), then
  until the warm engine's ``ask`` answers a question about the report from it;
* ``cli remove``: ``hoidap index build --remove ID --index COPY``, then until the report is
  gone from the warm engine's results;
* ``upload``: ``POST /api/documents`` on the web app over the warm engine (the chat's and the
  REST API's one intake and job queue: a niced worker process embeds and commits), until
  answerable; then the report is removed again.

Prints a table and writes bench/results/live.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchutil import ROOT, save, table

from hoidap.config import Config

REPORT = """Báo cáo kết quả phát triển kinh tế - xã hội huyện Tiên Yên 11 tháng năm 2026

Ngày 28/11/2026, UBND huyện Tiên Yên tổ chức hội nghị đánh giá kết quả thực hiện nhiệm vụ \
phát triển kinh tế - xã hội 11 tháng năm 2026. Theo báo cáo, tổng thu ngân sách nhà nước trên \
địa bàn huyện đạt 215,4 tỷ đồng, bằng 103,5% dự toán và tăng 8,2% so với cùng kỳ năm trước.

Sản xuất nông nghiệp tiếp tục phát triển ổn định. Tổng diện tích gieo trồng đạt 4.120 ha; sản \
lượng lương thực có hạt ước đạt 15.780 tấn. Huyện đã trồng mới 1.350 ha rừng tập trung, tỷ lệ \
che phủ rừng đạt 62,4%.

Về xây dựng nông thôn mới, đến nay huyện có 9 xã đạt chuẩn nông thôn mới, trong đó xã Đông Ngũ \
đạt chuẩn nông thôn mới nâng cao. Tỷ lệ hộ nghèo toàn huyện giảm còn 1,87%, vượt chỉ tiêu Nghị \
quyết Hội đồng nhân dân huyện giao.

Công tác y tế, giáo dục được quan tâm. Toàn huyện có 31/35 trường đạt chuẩn quốc gia; tỷ lệ \
người dân tham gia bảo hiểm y tế đạt 96,1%. Tình hình an ninh chính trị, trật tự an toàn xã hội \
được giữ vững.

Phát biểu kết luận hội nghị, Chủ tịch UBND huyện Tiên Yên đề nghị các phòng, ban, đơn vị và UBND \
các xã tập trung hoàn thành các chỉ tiêu còn lại của năm 2026, chuẩn bị tốt các điều kiện để tổ \
chức Tết Nguyên đán vui tươi, an toàn, tiết kiệm.
"""
QUESTION = ("Tổng thu ngân sách nhà nước trên địa bàn huyện Tiên Yên 11 tháng năm 2026 "
            "đạt bao nhiêu?")
DOC_ID = "tien-yen-11-thang"
POLL_S = 0.02


def _cli(*args: str) -> float:
    """Wall seconds of one ``hoidap`` process (it must succeed)."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "hoidap.cli", *args], capture_output=True,
                          text=True, check=False, env={**os.environ, "HOIDAP_ENGINE": "local"})
    if proc.returncode != 0:
        raise SystemExit(f"hoidap {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def _until(check, t0: float, limit: float = 60.0) -> float:
    """Seconds from ``t0`` until ``check()`` is true."""
    while not check():
        if time.perf_counter() - t0 > limit:
            raise SystemExit(f"not visible after {limit:.0f} s")
        time.sleep(POLL_S)
    return time.perf_counter() - t0


def answered(engine, doc_id: str = DOC_ID) -> bool:
    """Whether the engine answers the question from the new report."""
    result = engine.ask(QUESTION)
    return any(a.citation.doc_id == doc_id for a in result.answers)


def gone(engine, doc_ids: tuple[str, ...] = (DOC_ID,)) -> bool:
    """Whether the report has left the engine's results."""
    return all(p.doc_id not in doc_ids for p in engine.search(QUESTION, k=10))


def one_run(engine, index: Path, report: Path, client) -> dict[str, float]:
    """Add by CLI, remove by CLI, add by upload, remove: seconds of each."""
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    out["cli_add_process_s"] = _cli("index", "build", str(report), "--index", str(index),
                                    "--json")
    out["cli_add_answerable_s"] = _until(lambda: answered(engine), t0)
    t0 = time.perf_counter()
    out["cli_remove_process_s"] = _cli("index", "build", "--remove", DOC_ID, "--index",
                                       str(index))
    out["cli_remove_gone_s"] = _until(lambda: gone(engine), t0)
    t0 = time.perf_counter()
    with report.open("rb") as f:
        resp = client.post("/api/documents", files=[("files", (report.name, f, "text/plain"))])
    if resp.status_code != 200:
        raise SystemExit(f"upload failed: {resp.status_code} {resp.text[:500]}")
    out["upload_done_s"] = time.perf_counter() - t0
    [uploaded] = resp.json()["added"]
    out["upload_answerable_s"] = _until(lambda: answered(engine, uploaded), t0)
    _cli("index", "build", "--remove", uploaded, "--index", str(index))
    _until(lambda: gone(engine, (uploaded,)), time.perf_counter())
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True, help="a built index folder (copied)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    from fastapi.testclient import TestClient

    from qa.engine import QAEngine
    from ui.app import create_app

    with tempfile.TemporaryDirectory(prefix="hoidap-live-") as tmp:
        index = Path(tmp) / "index"
        shutil.copytree(args.index, index)
        report = Path(tmp) / f"{DOC_ID}.txt"
        report.write_text(REPORT, encoding="utf-8")
        config = replace(Config.from_env(), index_dir=index, engine="local")
        t0 = time.perf_counter()
        engine = QAEngine(config).warm_up()
        load_s = time.perf_counter() - t0
        chunks = engine.counts()[1]
        client = TestClient(create_app(engine, uploads_dir=Path(tmp) / "uploads",
                                       with_ui=False))
        runs = [one_run(engine, index, report, client) for _ in range(args.runs)]
        segments = len(engine.index.segments)
    keys = list(runs[0])
    med = {k: round(statistics.median(r[k] for r in runs), 2) for k in keys}
    print(f"index: {chunks} chunks in {segments} segments (warm engine loaded in "
          f"{load_s:.1f} s); median of {args.runs} runs")
    print(table(["step", "median s", "runs"],
                [[k, med[k], " / ".join(f"{r[k]:.2f}" for r in runs)] for k in keys]))
    path = save("live", {"args": {"index": str(args.index), "runs": args.runs},
                         "chunks": chunks, "segments": segments, "load_s": round(load_s, 2),
                         "median": med, "runs": runs, "question": QUESTION})
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
