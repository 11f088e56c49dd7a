"""Seconds from process start to the first answer, with a prebuilt index.

    .venv/bin/python bench/coldstart.py [--index DIR] [--runs 3] [--server]

Without ``--index`` the seed articles are indexed into a temporary folder first (not timed).
Each run starts ``hoidap ask QUESTION --index DIR --json`` as a new process and times it until
the answer is printed (model load, index load, retrieval and reading included). The model is
already converted (default model cache), so this is the cold start of a server or CLI call.
With ``--server`` it also starts ``hoidap serve --index DIR`` (web chat + REST API) and times
until its first ``POST /api/ask`` answer, then asks 20 more questions and reads the server's
peak RSS (``VmHWM``). Prints a table and writes bench/results/coldstart.json.
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


def _vm(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` memory field in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def _post(url: str, question: str) -> dict | None:
    import urllib.error
    import urllib.request

    body = json.dumps({"question": question}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def time_server(index: Path, question: str, port: int = 7911) -> dict:
    """Seconds from ``hoidap serve`` start to its first answer; peak RSS after 21 asks."""
    cmd = [sys.executable, "-m", "hoidap.cli", "serve", "--index", str(index),
           "--port", str(port)]
    env = {**os.environ, "HOIDAP_ENGINE": "local", "HOIDAP_RATE_LIMIT": "0"}
    url = f"http://127.0.0.1:{port}/api/ask"
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        answer = None
        while answer is None and time.perf_counter() - t0 < 300 and proc.poll() is None:
            answer = _post(url, question)
            if answer is None:
                time.sleep(0.1)
        first = time.perf_counter() - t0
        if answer is None:
            raise SystemExit(f"hoidap serve gave no answer (exit code {proc.poll()})")
        for i in range(20):
            _post(url, f"{question} ({i})")
        return {"first_answer_s": round(first, 2), "peak_rss_mb": _vm(proc.pid, "VmHWM"),
                "rss_mb": _vm(proc.pid, "VmRSS")}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def time_import() -> float:
    """Wall seconds of a process that only imports the engine (the floor of any cold start)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import qa.engine"], check=True, cwd=ROOT)
    return time.perf_counter() - t0


def _prebuilt(tmp: str) -> Path:
    from index.embedder import Embedder
    from qa.search.write import build_index

    config = replace(Config.from_env(), index_dir=Path(tmp) / "index")
    build_index([ROOT / "seeds"], config, Embedder(config), fresh=True)
    return Path(tmp) / "index"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, help="prebuilt index (default: seeds, built first)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--question", default=QUESTION)
    ap.add_argument("--server", action="store_true", help="also time `hoidap serve`")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hoidap-cold-") as tmp:
        index = args.index or _prebuilt(tmp)
        imports = [time_import() for _ in range(args.runs)]
        runs = [time_ask(index, args.question) for _ in range(args.runs)]
        server = time_server(index, args.question) if args.server else None
    seconds = [s for s, _ in runs]
    answer = runs[0][1]["answers"][0]["text"] if runs[0][1]["answers"] else None
    result = {"question": args.question, "answer": answer, "runs_s": [round(s, 2) for s in
                                                                      seconds],
              "median_s": round(statistics.median(seconds), 2), "min_s": round(min(seconds), 2),
              "import_median_s": round(statistics.median(imports), 2), "server": server,
              "index": str(index)}
    print(table(["runs", "first answer median s", "min s", "import-only median s", "answer"],
                [[args.runs, result["median_s"], result["min_s"], result["import_median_s"],
                  answer]]))
    if server:
        print(table(["server first answer s", "server peak RSS MiB", "RSS after 21 asks MiB"],
                    [[server["first_answer_s"], server["peak_rss_mb"], server["rss_mb"]]]))
    print(f"\nwritten {save('coldstart', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
