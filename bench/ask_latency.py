"""Warm end-to-end ``ask`` latency, one client, each question asked once (no cache help).

    .venv/bin/python bench/ask_latency.py --index DIR [QUESTIONS.jsonl ...]

Defaults: the seeds QA and the held-out seeds questions over the default index. Builds nothing:
index first (``hoidap index build seeds``). Writes bench/results/ask_latency.json.
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
    parser.add_argument("--index", type=Path, default=None)
    args = parser.parse_args()
    engine = QAEngine(Config.from_env(index_dir=args.index)).warm_up()
    engine.ask("câu hỏi khởi động")
    times = []
    for q in questions(args.files):
        t0 = time.perf_counter()
        engine.ask(q)
        times.append((time.perf_counter() - t0) * 1000)
    row = {"questions": len(times), "p50_ms": round(percentile(times, 50), 1),
           "p95_ms": round(percentile(times, 95), 1), "max_ms": round(max(times), 1)}
    print(table(list(row), [list(row.values())]))
    save("ask_latency", {"machine": machine(), "index": str(engine.index_dir), **row})


if __name__ == "__main__":
    main()
