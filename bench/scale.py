"""Index build throughput, memory, size on disk and query latency on the VNTC news corpus.

    .venv/bin/python bench/scale.py --sizes 1000,5000,20000 [--queries 100] [--asks 20]
        [--keep DIR]   # keep each index as DIR/<size> (for bench/coldstart.py, bench/ann.py)

Each size runs in a fresh subprocess (so peak RSS is per size): articles are sampled evenly
through the corpus (every n-th line, deterministic), cleaned into documents, indexed into a
temporary folder, then queried warm by one client with sentences taken from the articles.
Prints a table and writes bench/results/scale.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchutil import SHARED, PeakRSS, dir_size, save, table

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


def cpu_seconds() -> float:
    """User + system CPU time of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_one(size: int, n_queries: int, n_asks: int, keep: Path | None = None) -> dict:
    """Build and query one index of ``size`` articles (in this process)."""
    import os
    import shutil

    from qa.engine import QAEngine
    from qa.search.write import build_index

    docs = article_documents(sample_articles(CORPUS, size))
    with tempfile.TemporaryDirectory(prefix="hoidap-scale-") as tmp:
        config = replace(Config.from_env(), index_dir=Path(tmp) / "index", engine="local")
        engine = QAEngine(config)
        _ = engine.embedder.backend  # the passage model a build loads (not the query one)
        cpu0 = cpu_seconds()
        with PeakRSS() as build_rss:
            report = build_index([], config, engine.embedder, fresh=True, documents=docs)
        cpu_util = (cpu_seconds() - cpu0) / report.seconds / (os.cpu_count() or 1)
        engine.embedder.warm_up()  # the query encoder, loaded before timing the index load
        t0 = time.perf_counter()
        engine.warm_up()
        load_s = time.perf_counter() - t0
        queries = make_queries(docs, n_queries)
        search = _latencies(lambda q: engine.search(q, k=5), queries)
        ask = _latencies(engine.ask, queries[:n_asks])
        size_mb = dir_size(Path(tmp) / "index") / 2**20
        if keep is not None:
            shutil.rmtree(keep / str(size), ignore_errors=True)
            shutil.copytree(Path(tmp) / "index", keep / str(size))
    return {"articles": size, "documents": report.documents, "chunks": report.chunks,
            "embed_backend": engine.embedder.backend, "cpu_utilisation": round(cpu_util, 2),
            "dense": engine.index.manifest.get("dense", {}).get("kind"),
            "segments": len(engine.index.segments),
            "build_s": round(report.seconds, 1),
            "chunks_per_s": round(report.chunks / report.seconds, 2),
            "build_peak_rss_mb": round(build_rss.peak / 2**20),
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
