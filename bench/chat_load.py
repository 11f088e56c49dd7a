"""Load test of the chat page: simultaneous users asking through the Gradio API.

    python bench/chat_load.py                # real model: 20 users, idle, then during an upload
    python bench/chat_load.py --fake         # fake embedder (tests.fake_cli): plumbing only

A real ``hoidap serve`` runs in its own process on 127.0.0.1 over the seeds index. Each user
is a ``gradio_client.Client`` (its own page session) asking the seed questions back to back
through the page's ask event, exactly what the Hỏi button sends. Round ``idle``: every user
asks ``--questions`` questions. Round ``upload``: one more session uploads a ~450 KB .txt of
VNTC news articles through the page's upload button and the users keep asking until it is
indexed (at most ``--ask-seconds``, at least ``--questions`` each); the upload's total time
and the progress lines the page showed are recorded, and the new document is then checked to
be searchable. A question that raises or whose reply is an error message counts as an error.
``--server-root DIR`` serves another checkout's code (e.g. ``git archive`` of the commit
before) to compare. Results go to ``bench/results/chat_load[-fake][-TAG].json``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unicodedata
import urllib.request
from pathlib import Path

from benchutil import ROOT, SHARED, save
from load import HOST, build_seed_index, free_port, latency_ms, questions, start_server, wait_ready

NEWS = SHARED / "data" / "vntc_news_train.jsonl.gz"
UPLOAD_BYTES = 450_000
UPLOAD_NAME = "tin_tuc_vntc.txt"


def upload_text(target: int = UPLOAD_BYTES) -> tuple[str, str]:
    """About ``target`` bytes of VNTC news articles as one text (NFC), and a sentence of it
    to search for afterwards."""
    parts: list[str] = []
    size = 0
    with gzip.open(NEWS, "rt", encoding="utf-8") as lines:
        for line in lines:
            text = unicodedata.normalize("NFC", json.loads(line)["text"]).strip()
            parts.append(text)
            size += len(text.encode("utf-8")) + 2
            if size >= target:
                break
    probe = re.split(r"(?<=[.!?])\s+", parts[len(parts) // 2])[0][:200]
    return "\n\n".join(parts), probe


class User(threading.Thread):
    """One page session asking questions in turn."""

    def __init__(self, n: int, url: str, qs: list[str], start: threading.Barrier,
                 at_least: int, until: threading.Event | None, seconds: float) -> None:
        super().__init__(daemon=True)
        from gradio_client import Client

        self.client = Client(url, verbose=False)
        self.n, self.qs, self.gate, self.at_least, self.until = n, qs, start, at_least, until
        self.seconds = seconds
        self.deadline = float("inf")
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def keep_asking(self) -> bool:
        if len(self.latencies) < self.at_least:
            return True
        return self.until is not None and not self.until.is_set() and \
            time.monotonic() < self.deadline

    def run(self) -> None:
        self.gate.wait()
        self.deadline = time.monotonic() + self.seconds
        i = self.n
        while self.keep_asking():
            question = self.qs[i % len(self.qs)]
            i += 1
            t0 = time.perf_counter()
            try:
                out = self.client.predict(question, [], None, "", "", False, api_name="/ask")
                reply = out[0][-1]["content"] if out and out[0] else ""
                if "hd-error" in str(reply) or not reply:
                    self.errors.append(f"error reply to {question!r}: {str(reply)[:200]}")
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])
            self.latencies.append(time.perf_counter() - t0)


def summary(users: list[User], wall: float) -> dict:
    """Latency percentiles, throughput and errors of one round."""
    lat = [x for u in users for x in u.latencies]
    errors = [e for u in users for e in u.errors]
    return {"users": len(users), "questions": len(lat), "errors": len(errors),
            "error_samples": errors[:5], "seconds": round(wall, 1),
            "questions_per_s": round(len(lat) / wall, 2) if wall else 0.0,
            **latency_ms(lat, (50, 95), None)}


def run_round(url: str, n: int, qs: list[str], at_least: int,
              until: threading.Event | None = None, during: threading.Thread | None = None,
              seconds: float = float("inf")) -> dict:
    """``n`` users asking at once (sessions opened first, not timed): ``at_least`` questions
    each, and while ``until`` is not set, for at most ``seconds``."""
    start = threading.Barrier(n + 1)
    users = [User(i, url, qs, start, at_least, until, seconds) for i in range(n)]
    for u in users:
        u.start()
    if during is not None:
        during.start()
    start.wait()
    t0 = time.perf_counter()
    for u in users:
        u.join()
    return summary(users, time.perf_counter() - t0)


class Uploader(threading.Thread):
    """Uploads one file through the page's upload button and follows its progress."""

    def __init__(self, url: str, path: Path, done: threading.Event) -> None:
        super().__init__(daemon=True)
        from gradio_client import Client

        self.client = Client(url, verbose=False)
        self.path, self.done = path, done
        self.seconds = 0.0
        self.lines: list[str] = []
        self.final = ""

    def run(self) -> None:
        from gradio_client import handle_file

        t0 = time.perf_counter()
        try:
            job = self.client.submit([handle_file(str(self.path))], api_name="/upload")
            seen = 0
            while not job.done():
                outputs = job.outputs()
                for out in outputs[seen:]:
                    self.lines.append(re.sub(r"<[^>]+>", " ", str(out[0])).strip())
                seen = len(outputs)
                time.sleep(0.2)
            self.final = re.sub(r"<[^>]+>", " ", str(job.result()[0])).strip()
        except Exception as exc:  # noqa: BLE001 - reported in the results
            self.final = f"upload failed: {type(exc).__name__}: {exc}"
        finally:
            self.seconds = time.perf_counter() - t0
            self.done.set()


def searchable(port: int, probe: str) -> bool:
    """Whether ``POST /api/search`` of ``probe`` ranks the uploaded document first."""
    body = json.dumps({"question": probe, "k": 1}).encode()
    req = urllib.request.Request(f"http://{HOST}:{port}/api/search", body,
                                 {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        hits = json.loads(resp.read())["passages"]
    return bool(hits) and hits[0]["doc_id"] == Path(UPLOAD_NAME).stem


def sampled(lines: list[str], n: int = 8) -> list[str]:
    """About ``n`` evenly spread progress lines (first and last kept)."""
    unique = list(dict.fromkeys(lines))
    if len(unique) <= n:
        return unique
    step = (len(unique) - 1) / (n - 1)
    return [unique[round(i * step)] for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--users", type=int, default=20)
    p.add_argument("--questions", type=int, default=5, help="per user and round, at least")
    p.add_argument("--fake", action="store_true", help="fake embedder (plumbing only)")
    p.add_argument("--skip-idle", action="store_true", help="only the upload round")
    p.add_argument("--skip-upload", action="store_true", help="only the idle round")
    p.add_argument("--ask-seconds", type=float, default=60.0,
                   help="users ask during at most this much of the upload (it then finishes "
                        "alone; its total time is still measured)")
    p.add_argument("--tag", default="", help="suffix of the result file name")
    p.add_argument("--server-root", type=Path, default=ROOT,
                   help="serve the code of another checkout (e.g. the commit before, to compare)")
    args = p.parse_args(argv)
    qs = questions()
    text, probe = upload_text()
    with tempfile.TemporaryDirectory(prefix="hoidap-chat-load-") as tmp:
        index_dir = Path(tmp) / "index"
        build_seed_index(index_dir, args.fake)
        upload = Path(tmp) / UPLOAD_NAME
        upload.write_text(text, encoding="utf-8")
        port = free_port()
        proc = start_server(index_dir, port, args.fake, Path(tmp) / "server.log",
                            args.server_root.resolve())
        url = f"http://{HOST}:{port}/"
        try:
            wait_ready(port, proc, 300)
            run_round(url, 1, qs, len(qs))  # warm-up: each question once (model, caches)
            rounds = {}
            if not args.skip_idle:
                rounds["idle"] = run_round(url, args.users, qs, args.questions)
                print(f"idle: {json.dumps(rounds['idle'], ensure_ascii=False)}", flush=True)
            if args.skip_upload:
                return _finish(args, qs, rounds, "")
            done = threading.Event()
            uploader = Uploader(url, upload, done)
            rounds["upload"] = run_round(url, args.users, qs, args.questions, done, uploader,
                                         args.ask_seconds)
            uploader.join()
            rounds["upload"]["asked_until_upload_done"] = rounds["upload"]["seconds"] >= \
                uploader.seconds - 1
            rounds["upload"]["upload"] = {
                "file": UPLOAD_NAME, "bytes": len(text.encode("utf-8")),
                "seconds": round(uploader.seconds, 1), "final": uploader.final,
                "progress_lines": sampled(uploader.lines),
                "searchable_after": searchable(port, probe)}
            print(f"upload: {json.dumps(rounds['upload'], ensure_ascii=False)}", flush=True)
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:  # open page sessions can hold a graceful exit
                proc.kill()
                proc.wait(15)
            log_tail = (Path(tmp) / "server.log").read_text(errors="replace")[-3000:]
    return _finish(args, qs, rounds, log_tail)


def _finish(args: argparse.Namespace, qs: list[str], rounds: dict, log_tail: str) -> int:
    """Write the result file; the exit status (1 on any error or an unsearchable upload)."""
    errors = sum(r["errors"] for r in rounds.values())
    name = "chat_load" + ("-fake" if args.fake else "") + (f"-{args.tag}" if args.tag else "")
    out = save(name, {
        "what": "chat ask event through the Gradio API (gradio_client), hoidap serve in its own "
                "process on 127.0.0.1; users ask back to back",
        "embedder": "fake (HashEmbedder)" if args.fake else "real (e5-small q4, CPU)",
        "server_code": str(args.server_root), "chat_concurrency_env":
            os.environ.get("HOIDAP_CHAT_CONCURRENCY", ""), "index_threads_env":
            os.environ.get("HOIDAP_INDEX_THREADS", ""),
        "questions_in_set": len(qs), "rounds": rounds, "total_errors": errors,
        "server_log_tail": log_tail if errors else ""})
    print(f"{errors} errors; written to {out}")
    ok = not errors and ("upload" not in rounds or rounds["upload"]["upload"]["searchable_after"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
