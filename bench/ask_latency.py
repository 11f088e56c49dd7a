"""Warm end-to-end ``ask`` latency, one client, each question asked once (no cache help).

    .venv/bin/python bench/ask_latency.py [--index DIR ...] [QUESTIONS.jsonl ...]

Defaults: the seeds QA and the held-out seeds questions over the default index. Builds nothing:
index first (``hoidap index build seeds``). With several ``--index``, all are loaded in this one
process and every question is asked of each in turn (so load on the machine hits all alike);
each index's p50 is also given as a ratio to the first one's (e.g. seeds alone, then seeds +
20k news articles). Writes bench/results/ask_latency.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchutil import ROOT, SHARED, machine, save, table

from hoidap.config import Config
from qa.engine import QAEngine
from qa.evaluate import percentile

DEFAULT_FILES = (SHARED / "eval" / "seeds_qa.jsonl",
                 ROOT / "tests" / "data" / "seeds_heldout.jsonl")


def questions(files: list[Path]) -> list[str]:
    """Every ``question`` of the JSONL files, in order."""
    return [json.loads(line)["question"] for f in files
            for line in f.read_text(encoding="utf-8").splitlines() if line.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=list(DEFAULT_FILES))
    parser.add_argument("--index", type=Path, action="append", default=None)
    args = parser.parse_args()
    engines = [QAEngine(Config.from_env(index_dir=d)).warm_up() for d in args.index or [None]]
    times: list[list[float]] = [[] for _ in engines]
    for engine in engines:
        engine.ask("câu hỏi khởi động")
    for q in questions(args.files):
        for engine, own in zip(engines, times, strict=True):
            t0 = time.perf_counter()
            engine.ask(q)
            own.append((time.perf_counter() - t0) * 1000)
    rows = []
    for engine, own in zip(engines, times, strict=True):
        docs, chunks = engine.counts()
        p50 = percentile(own, 50)
        rows.append({"index": str(engine.index_dir), "chunks": chunks, "questions": len(own),
                     "p50_ms": round(p50, 1), "p95_ms": round(percentile(own, 95), 1),
                     "max_ms": round(max(own), 1),
                     "p50_ratio": round(p50 / percentile(times[0], 50), 2)})
    print(table(list(rows[0]), [list(r.values()) for r in rows]))
    save("ask_latency", {"machine": machine(), "results": rows})


if __name__ == "__main__":
    main()
