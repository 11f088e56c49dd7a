"""Local (FAISS + BM25) vs Milvus (milvus-lite) on the VNTC news corpus, and Ray embedding.

    .venv/bin/python bench/engines.py --sizes 1000,2000 [--queries 200] [--embed 128]

Engine costs are measured apart from the embedding model (the same for both engines): each
size is indexed with the tests' hash embedder (microseconds per chunk) into a fresh local
folder, a milvus-lite file and, with ``--server``, a milvus-lite server over loopback. Then an
update of 1% of the articles, then warm search latency (hybrid; hybrid with a date filter)
with precomputed query vectors. ``--embed N`` times the real model on N chunks in this process
and through a local Ray Data actor pool. Writes bench/results/engines-<sizes>.json.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchutil import ROOT, dir_size, save, table
from scale import CORPUS, article_documents, make_queries, sample_articles

from hoidap.config import Config, LimitsConfig
from index.types import Document
from qa.evaluate import percentile
from qa.types import Filters

sys.path.insert(0, str(ROOT))
from tests.fakes import HashEmbedder  # noqa: E402


def _pcts(times_ms: list[float]) -> dict[str, float]:
    return {f"p{p}": round(percentile(times_ms, p), 2) for p in (50, 95, 99)}


def _dated(docs: list[Document]) -> list[Document]:
    """Give undated articles a spread of dates so date filters have something to do."""
    return [d if d.date else replace(d, date=f"20{10 + i % 10:02d}-0{1 + i % 9}-15")
            for i, d in enumerate(docs)]


def _server() -> tuple[subprocess.Popen, str, Path]:
    data = Path(tempfile.mkdtemp(prefix="hoidap-mls-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = str(Path(sys.executable).parent / "milvus-lite")
    proc = subprocess.Popen([exe, "server", "--data-dir", str(data), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    return proc, f"http://127.0.0.1:{port}", data


def _write(kind: str, cfg: Config, docs: list[Document], fresh: bool):
    """Index ``docs`` into the engine; returns the build report."""
    from qa.search.write import build_index

    return build_index([], cfg, HashEmbedder(), fresh=fresh, documents=docs)


def bench_engine(kind: str, docs: list[Document], queries: list[str], tmp: Path,
                 uri: str | None = None) -> dict:
    """Build, update 1% and query one engine."""
    from qa.search import make_query, open_engine, rank

    cfg = Config(home=tmp / "home", index_dir=tmp / "idx",
                 limits=LimitsConfig(parse_timeout_s=0))
    if kind != "local":
        cfg = replace(cfg, engine="milvus", milvus_uri=uri or str(tmp / "milvus.db"))
    t0 = time.perf_counter()
    report = _write(kind, cfg, docs, fresh=True)
    build_s = time.perf_counter() - t0
    changed = [replace(d, text=d.text + "\n\nCập nhật.", content_hash=d.content_hash + "x")
               for d in docs[::100]]
    t0 = time.perf_counter()
    _write(kind, cfg, changed, fresh=False)
    backend = open_engine(cfg)
    update_s = time.perf_counter() - t0
    emb = HashEmbedder()
    parsed = {q: make_query(q, backend) for q in queries}
    vecs = {q: emb.encode_queries([parsed[q].restored]) for q in queries}
    out = {"engine": kind, "chunks": report.chunks, "build_s": round(build_s, 2),
           "chunks_per_s": round(report.chunks / build_s, 1), "update_1pct_s": round(update_s, 2)}
    for name, filters in (("search", None),
                          ("search_filtered", Filters(date_from="2012-01-01",
                                                      date_to="2015-12-31"))):
        times = []
        for q in queries:
            t0 = time.perf_counter()
            rank(backend, make_query(q, backend), vecs[q], 5, filters, "hybrid", cfg.retrieval)
            times.append((time.perf_counter() - t0) * 1000)
        out[name + "_ms"] = _pcts(times)
    if kind == "local":
        out["disk_mb"] = round(dir_size(tmp / "idx") / 2**20, 1)
    elif uri is None:
        out["disk_mb"] = round(dir_size(tmp / "milvus.db") / 2**20, 1)
    return out


def bench_embed(docs: list[Document], n: int) -> list[dict]:
    """Real-model passage embedding: this process vs a local Ray Data actor pool."""
    from index.build import chunk_all
    from index.embedder import Embedder
    from index.ray_ingest import RayOptions, RayPassageEncoder

    cfg = Config.from_env()
    texts = chunk_all(docs, cfg)[1][:n]
    emb = Embedder(cfg)
    t0 = time.perf_counter()
    emb.warm_up()
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    emb.encode_passages(texts)
    single = time.perf_counter() - t0
    rows = [{"how": "single process", "chunks": len(texts), "seconds": round(single, 1),
             "chunks_per_s": round(len(texts) / single, 2), "model_load_s": round(warm, 1)}]
    for conc in (1, 2):
        ray_enc = RayPassageEncoder(cfg, RayOptions(concurrency=conc, num_cpus=0.5,
                                                    threads=2 // conc, batch_size=16))
        t0 = time.perf_counter()
        ray_enc.encode_passages(texts)
        took = time.perf_counter() - t0
        ray_enc.shutdown()
        rows.append({"how": f"Ray Data, {conc} actor(s) x 0.5 CPU", "chunks": len(texts),
                     "seconds": round(took, 1), "chunks_per_s": round(len(texts) / took, 2),
                     "model_load_s": None})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000", help="comma-separated article counts")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--embed", type=int, default=0, help="chunks for the real-model timing")
    ap.add_argument("--server", action="store_true", help="also a milvus-lite server")
    args = ap.parse_args(argv)
    results = []
    for size in (int(s) for s in args.sizes.split(",") if s.strip()):
        docs = _dated(article_documents(sample_articles(CORPUS, size)))
        queries = make_queries(docs, args.queries)
        kinds = ["local", "milvus-lite"] + (["milvus-lite server"] if args.server else [])
        for kind in kinds:
            tmp = Path(tempfile.mkdtemp(prefix="hoidap-eng-"))
            proc, uri, data = None, None, tmp
            try:
                if kind.endswith("server"):
                    proc, uri, data = _server()
                row = bench_engine(kind, docs, queries, tmp, uri)
            finally:
                if proc is not None:
                    proc.terminate()
                    proc.wait()
                shutil.rmtree(tmp, ignore_errors=True)
                shutil.rmtree(data, ignore_errors=True)
            results.append({"articles": size, **row})
            print(results[-1], flush=True)
    embed = bench_embed(docs, args.embed) if args.embed else []
    headers = ["articles", "engine", "chunks", "build s", "chunks/s", "update 1% s",
               "search p50 ms", "p95", "filtered p50 ms", "p95", "disk MB"]
    print(table(headers, [[r["articles"], r["engine"], r["chunks"], r["build_s"],
                           r["chunks_per_s"], r["update_1pct_s"], r["search_ms"]["p50"],
                           r["search_ms"]["p95"], r["search_filtered_ms"]["p50"],
                           r["search_filtered_ms"]["p95"], r.get("disk_mb")]
                          for r in results]))
    if embed:
        print(table(["how", "chunks", "seconds", "chunks/s"],
                    [[e["how"], e["chunks"], e["seconds"], e["chunks_per_s"]] for e in embed]))
    name = "engines-" + args.sizes.replace(",", "_")
    print(f"written {save(name, {'args': vars(args), 'results': results, 'embed': embed})}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
