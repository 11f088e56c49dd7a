"""Index build throughput, memory, size on disk and query latency on the VNTC news corpus.

    .venv/bin/python bench/scale.py --sizes 1000,5000,20000 [--queries 100] [--asks 20]
        [--keep DIR]   # keep each index as DIR/<size> (for bench/coldstart.py, bench/ann.py)

Each size runs in a fresh subprocess: articles are sampled evenly through the corpus (every
n-th line, deterministic), cleaned, written as ``.txt`` files and indexed by
``hoidap index build FILES --fresh`` in a new process (its peak RSS and CPU are the build's;
before the live-index change the build ran inside the bench process, holding the bench's own
copy of the articles), then queried warm by one client with sentences from the articles.
Prints a table and writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchutil import SHARED, dir_size, save, table

from hoidap.config import Config
from hoidap.errors import HoidapError
from index.types import Document
from qa.evaluate import percentile

CORPUS = SHARED / "data" / "vntc_news_train.jsonl.gz"
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def sample_articles(path: Path, n: int) -> list[dict]:
    """Every ``len/n``-th article of the corpus (deterministic, spread across topics)."""
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        lines = fh.readlines()
    step = max(1, len(lines) // n)
    return [json.loads(line) for line in lines[::step][:n]]


def article_documents(articles: list[dict]) -> list[Document]:
    """Cleaned documents (articles with no text left are skipped)."""
    from index.clean import make_document, safe_doc_id

    docs = []
    for i, art in enumerate(articles):
        try:
            docs.append(make_document(f"{i:05d}-{safe_doc_id(art['id'])}"[:100], art["id"],
                                      art["text"]))
        except HoidapError:
            continue
    return docs


def make_queries(docs: list[Document], n: int, seed: int = 13) -> list[str]:
    """``n`` queries: a sentence of 8-30 words from a random article, cut to 20 words."""
    rng = random.Random(seed)
    queries: list[str] = []
    for _ in range(n * 50):
        if len(queries) == n:
            break
        sentences = _SENTENCE.split(rng.choice(docs).text.replace("\n\n", " "))
        words = rng.choice(sentences).split()
        if 8 <= len(words) <= 30:
            queries.append(" ".join(words[:20]))
    return queries


def _latencies(fn, queries: list[str]) -> dict[str, float]:
    times = []
    for q in queries:
        t0 = time.perf_counter()
        fn(q)
        times.append((time.perf_counter() - t0) * 1000)
    return {f"p{p}": round(percentile(times, p), 1) for p in (50, 95, 99)} | {"n": len(times)}


def write_articles(docs: list[Document], folder: Path) -> None:
    """The articles as ``.txt`` files (what a user's build reads)."""
    folder.mkdir(parents=True)
    for d in docs:
        (folder / f"{d.doc_id}.txt").write_text(d.text, encoding="utf-8")


def cli_build(src: Path, index: Path) -> tuple[dict, float, float, float]:
    """``hoidap index build SRC --fresh`` in a new process: its report, wall seconds, peak
    RSS in bytes and CPU seconds."""
    cmd = [sys.executable, "-m", "hoidap.cli", "index", "build", str(src), "--fresh",
           "--index", str(index), "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HOIDAP_ENGINE": "local"})
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"build failed:\n{err[-3000:]}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the build, the only child so far
    return (json.loads(out), wall, usage.ru_maxrss * 1024,
            usage.ru_utime + usage.ru_stime)


def run_one(size: int, n_queries: int, n_asks: int, keep: Path | None = None) -> dict:
    """Build (``hoidap index build`` of the articles as files, in a new process) and query
    (warm, in this process) one index of ``size`` articles."""
    import shutil

    from index.embedder import choose_backend, cpu_flags
    from qa.engine import QAEngine

    docs = article_documents(sample_articles(CORPUS, size))
    queries = make_queries(docs, n_queries)
    with tempfile.TemporaryDirectory(prefix="hoidap-scale-") as tmp:
        write_articles(docs, Path(tmp) / "src")
        del docs
        index = Path(tmp) / "index"
        report, build_s, peak, cpu = cli_build(Path(tmp) / "src", index)
        config = replace(Config.from_env(), index_dir=index, engine="local")
        engine = QAEngine(config)
        engine.embedder.warm_up()  # the query encoder, loaded before timing the index load
        t0 = time.perf_counter()
        engine.warm_up()
        load_s = time.perf_counter() - t0
        search = _latencies(lambda q: engine.search(q, k=5), queries)
        ask = _latencies(engine.ask, queries[:n_asks])
        size_mb = dir_size(index) / 2**20
        dense = engine.index.manifest.get("dense", {}).get("kind")
        segments = len(engine.index.segments)
        if keep is not None:
            shutil.rmtree(keep / str(size), ignore_errors=True)
            shutil.copytree(index, keep / str(size))
    return {"articles": size, "documents": report["documents"], "chunks": report["chunks"],
            "embed_backend": choose_backend(config.embed_backend, cpu_flags()),
            "cpu_utilisation": round(cpu / build_s / (os.cpu_count() or 1), 2),
            "dense": dense, "segments": segments,
            "build_s": round(build_s, 1),
            "chunks_per_s": round(report["chunks"] / build_s, 2),
            "build_peak_rss_mb": round(peak / 2**20),
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "index_mb": round(size_mb, 1), "load_s": round(load_s, 2),
            "search_ms": search, "ask_ms": ask}


def _child(size: int, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--one", str(size), "--queries", str(args.queries),
           "--asks", str(args.asks)] + (["--keep", str(args.keep)] if args.keep else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"size {size} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _row(r: dict) -> list[object]:
    return [r["articles"], r["chunks"], r.get("embed_backend"), r.get("dense"),
            r.get("segments"), r["build_s"],
            r["chunks_per_s"], r.get("cpu_utilisation"), r["build_peak_rss_mb"],
            r["max_rss_mb"], r["index_mb"], r["load_s"], r["search_ms"]["p50"],
            r["search_ms"]["p95"], r["search_ms"]["p99"], r["ask_ms"]["p50"],
            r["ask_ms"]["p95"]]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000", help="comma-separated article counts")
    ap.add_argument("--queries", type=int, default=100, help="search queries per size")
    ap.add_argument("--asks", type=int, default=20, help="full ask() calls per size")
    ap.add_argument("--keep", type=Path, help="keep each index as KEEP/<size>")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.queries, args.asks, args.keep)))
        return 0
    results = [_child(int(s), args) for s in args.sizes.split(",") if s.strip()]
    headers = ["articles", "chunks", "embedding", "vectors", "segments", "build s", "chunks/s",
               "CPU use",
               "build peak RSS MB", "max RSS MB",
               "index MB", "load s", "search p50", "search p95", "search p99", "ask p50",
               "ask p95"]
    print(table(headers, [_row(r) for r in results]))
    name = "scale-" + "_".join(str(r["articles"]) for r in results)
    print(f"\nwritten {save(name, {'args': vars(args), 'results': results})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
