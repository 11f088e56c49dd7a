"""Load test: N client threads against ``POST /api/ask`` of a real ``hoidap serve`` on loopback.

    python bench/load.py                      # real model, seeds index: 50 clients, 60 s, 3 rounds
    python bench/load.py --fake --seconds 10  # fake embedder (tests.fake_cli): checks the plumbing

The server runs in its own process (bound to 127.0.0.1 only, rate limit off); its resident
memory is read from /proc after a warm-up and after every round, so growth across rounds
shows up. Every non-200 reply or connection error counts as an error. Results go to
``bench/results/load[-fake].json``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HOIDAP_SHARED") or ROOT.parent / "shared")
SEEDS_QA = SHARED / "eval" / "seeds_qa.jsonl"
HOST = "127.0.0.1"  # never anything else
FALLBACK_QUESTIONS = [
    "Tổng thu ngân sách Nhà nước trên địa bàn huyện Cao Lộc năm 2020 ước đạt bao nhiêu?",
    "Huyện Chi Lăng có bao nhiêu nhiệm vụ trọng tâm năm 2023 đạt mức hoàn thành xuất sắc?",
    "Ai là trưởng đoàn công tác của Thường trực Tỉnh ủy làm việc với Huyện ủy Cao Lộc?",
    "Dân số của thành phố Paris năm 2020 là bao nhiêu người?",
]


def questions() -> list[str]:
    """The seed evaluation questions when the shared set is there, else a few built-in ones."""
    if SEEDS_QA.exists():
        lines = SEEDS_QA.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["question"] for line in lines if line.strip()]
    return FALLBACK_QUESTIONS


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def latency_ms(lat: list[float], percentiles: tuple[int, ...] = (50, 95, 99),
               digits: int | None = 1) -> dict[str, float]:
    """Percentiles, maximum and mean of latencies ``lat`` (seconds), in ms rounded to
    ``digits`` (None: whole ms)."""
    out = {f"p{q}_ms": round(percentile(lat, q) * 1000, digits) for q in percentiles}
    out["max_ms"] = round(max(lat, default=0) * 1000, digits)
    out["mean_ms"] = round(statistics.fmean(lat) * 1000 if lat else 0.0, digits)
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(index_dir: Path, port: int, fake: bool, log: Path,
                 root: Path = ROOT) -> subprocess.Popen:
    """``hoidap serve`` (or the fake-embedder test CLI) in a child process, running the code
    under ``root`` (another checkout, to compare versions)."""
    module = "tests.fake_cli" if fake else "hoidap.cli"
    env = {**os.environ, "HOIDAP_RATE_LIMIT": "0", "HOIDAP_FAKE_EMBEDDER": "1" if fake else "0"}
    env.pop("HOIDAP_API_TOKEN", None)
    if root != ROOT:
        env["PYTHONPATH"] = str(root)
    cmd = [sys.executable, "-m", module, "serve", "--host", HOST, "--port", str(port),
           "--index", str(index_dir)]
    return subprocess.Popen(cmd, cwd=root, env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


def wait_ready(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with code {proc.returncode}; see its log")
        try:
            conn = http.client.HTTPConnection(HOST, port, timeout=5)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"server not ready after {timeout:.0f} s")


class Client(threading.Thread):
    """One keep-alive connection asking questions in turn until the deadline or budget."""

    def __init__(self, n: int, port: int, qs: list[str], deadline: float,
                 budget: threading.Semaphore) -> None:
        super().__init__(daemon=True)
        self.n, self.port, self.qs, self.deadline, self.budget = n, port, qs, deadline, budget
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def run(self) -> None:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
        i = self.n
        while time.time() < self.deadline and self.budget.acquire(blocking=False):
            body = json.dumps({"question": self.qs[i % len(self.qs)], "k": 5}).encode()
            i += 1
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/ask", body, {"content-type": "application/json"})
                resp = conn.getresponse()
                data = resp.read()
                if resp.status != 200 or "passages" not in json.loads(data):
                    self.errors.append(f"HTTP {resp.status}: {data[:200]!r}")
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
            self.latencies.append(time.perf_counter() - t0)
        conn.close()


def run_round(port: int, clients: int, seconds: float, max_requests: int,
              qs: list[str]) -> dict:
    deadline = time.time() + seconds
    budget = threading.Semaphore(max_requests)
    threads = [Client(n, port, qs, deadline, budget) for n in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = [x for t in threads for x in t.latencies]
    errors = [e for t in threads for e in t.errors]
    return {"requests": len(lat), "errors": len(errors), "error_samples": errors[:5],
            "seconds": round(wall, 1), "rps": round(len(lat) / wall, 2), **latency_ms(lat)}


def build_seed_index(index_dir: Path, fake: bool) -> None:
    module = "tests.fake_cli" if fake else "hoidap.cli"
    env = {**os.environ, "HOIDAP_FAKE_EMBEDDER": "1" if fake else "0"}
    subprocess.run([sys.executable, "-m", module, "index", "build", str(ROOT / "seeds"),
                    "--index", str(index_dir)], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--seconds", type=float, default=60.0, help="per round")
    p.add_argument("--max-requests", type=int, default=100_000, help="per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--index", type=Path, help="an existing index (default: seeds, built now)")
    p.add_argument("--fake", action="store_true", help="fake embedder (plumbing only)")
    p.add_argument("--out", type=Path, help="result file (default bench/results/load.json)")
    args = p.parse_args(argv)
    qs = questions()
    with tempfile.TemporaryDirectory(prefix="hoidap-load-") as tmp:
        index_dir = args.index or Path(tmp) / "index"
        if args.index is None:
            build_seed_index(index_dir, args.fake)
        port = free_port()
        log = Path(tmp) / "server.log"
        proc = start_server(index_dir, port, args.fake, log)
        try:
            wait_ready(port, proc, 300)
            run_round(port, 4, 3, 20, qs)  # warm-up (model, caches), not counted
            rss = [round(rss_mb(proc.pid), 1)]
            rounds = []
            for r in range(args.rounds):
                res = run_round(port, args.clients, args.seconds, args.max_requests, qs)
                res["rss_mb_after"] = round(rss_mb(proc.pid), 1)
                rss.append(res["rss_mb_after"])
                rounds.append(res)
                print(f"round {r + 1}: {json.dumps(res, ensure_ascii=False)}", flush=True)
        finally:
            proc.terminate()
            proc.wait(30)
    result = {
        "what": "POST /api/ask on 127.0.0.1, hoidap serve in its own process",
        "embedder": "fake (HashEmbedder)" if args.fake else "real (e5-small q4, CPU)",
        "clients": args.clients, "seconds_per_round": args.seconds,
        "max_requests_per_round": args.max_requests, "questions": len(qs),
        "rounds": rounds, "server_rss_mb": {"after_warmup": rss[0], "after_rounds": rss[1:]},
        "rss_growth_mb_after_first_round": round(rss[-1] - rss[1], 1) if len(rss) > 2 else None,
        "total_requests": sum(r["requests"] for r in rounds),
        "total_errors": sum(r["errors"] for r in rounds),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_after": [round(x, 2) for x in os.getloadavg()]},
        "time": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    out = args.out or ROOT / "bench" / "results" / ("load-fake.json" if args.fake else "load.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"{result['total_requests']} requests, {result['total_errors']} errors; "
          f"server RSS {rss} MiB; written to {out}")
    return 1 if result["total_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
