"""Acceptance: ``hoidap eval xquad.vi.json --build --limit 100 --json`` stays above measured floors.

Needs the shared data beside the clone (``../shared/data/xquad.vi.json``) and the embedding
model (default model cache, converted once). Takes several minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared import shared_file

XQUAD = "data/xquad.vi.json"

# Measured on the first 100 questions (all 240 paragraphs indexed) minus a small margin,
# heuristic reader with no-answer threshold 0.54; see docs/benchmarks.md.
# Raise them when quality improves, never lower them silently.
FLOORS = {
    "recall@1": 0.86,  # measured 0.90
    "recall@5": 0.96,  # 1.00
    "mrr@10": 0.91,  # 0.946
    "em": 0.27,  # 0.32
    "f1": 0.42,  # 0.470
    "contains": 0.47,  # 0.53
    "passage_contains": 0.77,  # 0.83
}


@pytest.mark.slow
@pytest.mark.model
def test_xquad_first_100_questions_above_floors(tmp_path: Path) -> None:
    env = {**os.environ, "HOIDAP_INDEX": str(tmp_path / "index")}  # never the user's index
    out = tmp_path / "results.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "hoidap.cli", "eval", str(shared_file(XQUAD)), "--build",
         "--limit", "100", "--json", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=3600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads(proc.stdout)
    assert metrics["questions"] == 100 and metrics["answerable"] == 100
    low = {k: (metrics[k], floor) for k, floor in FLOORS.items() if metrics[k] < floor}
    assert not low, f"metrics below their floors (value, floor): {low}"
    assert len(out.read_text(encoding="utf-8").splitlines()) == 100
    assert metrics["latency_p50_ms"] > 0
