"""Seconds from process start to the first answer, with a prebuilt index.

    .venv/bin/python bench/coldstart.py [--index DIR] [--runs 3]

Without ``--index`` the seed articles are indexed into a temporary folder first (not timed).
Each run starts ``hoidap ask QUESTION --index DIR --json`` as a new process and times it until
the answer is printed (model load, index load, retrieval and reading included). The model is
already converted (default model cache), so this is the cold start of a server or CLI call.
Prints a table and writes bench/results/coldstart.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchutil import ROOT, save, table

from hoidap.config import Config

QUESTION = "Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?"


def time_ask(index: Path, question: str) -> tuple[float, dict]:
    """Wall seconds of one ``hoidap ask`` process and its JSON answer."""
    cmd = [sys.executable, "-m", "hoidap.cli", "ask", question, "--index", str(index), "--json"]
    t0 = time.perf_counter()
    env = {**os.environ, "HOIDAP_ENGINE": "local"}  # the index folder built or given here
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"hoidap ask failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, json.loads(proc.stdout)


def time_import() -> float:
    """Wall seconds of a process that only imports the engine (the floor of any cold start)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import qa.engine"], check=True, cwd=ROOT)
    return time.perf_counter() - t0


def _prebuilt(tmp: str) -> Path:
    from index.build import build_index
    from index.embedder import Embedder

    config = replace(Config.from_env(), index_dir=Path(tmp) / "index")
    build_index([ROOT / "seeds"], config, Embedder(config), fresh=True)
    return Path(tmp) / "index"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, help="prebuilt index (default: seeds, built first)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--question", default=QUESTION)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hoidap-cold-") as tmp:
        index = args.index or _prebuilt(tmp)
        imports = [time_import() for _ in range(args.runs)]
        runs = [time_ask(index, args.question) for _ in range(args.runs)]
    seconds = [s for s, _ in runs]
    answer = runs[0][1]["answers"][0]["text"] if runs[0][1]["answers"] else None
    result = {"question": args.question, "answer": answer, "runs_s": [round(s, 2) for s in
                                                                      seconds],
              "median_s": round(statistics.median(seconds), 2), "min_s": round(min(seconds), 2),
              "import_median_s": round(statistics.median(imports), 2)}
    print(table(["runs", "first answer median s", "min s", "import-only median s", "answer"],
                [[args.runs, result["median_s"], result["min_s"], result["import_median_s"],
                  answer]]))
    print(f"\nwritten {save('coldstart', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
