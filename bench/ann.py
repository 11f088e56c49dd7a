"""Vector and BM25 search at 200k chunks: HNSW recall@10 against exact search, and latencies.

    .venv/bin/python bench/ann.py --index /work/bench-data/scale/20000 [--target 200000]

Starts from a prebuilt index (``bench/scale.py --keep``: 20k VNTC articles, ~110k chunks, real
vectors) and tops it up to ``--target`` chunks with the articles that index does not hold,
chunked smaller (600 characters), then, if still short, the held articles chunked again at
400 characters. The extra vectors are embedded once (passage backend of this machine) and
cached in ``--cache``.
Queries are real questions (XQuAD-vi) and sentences taken from the articles.

Reports, for exact (flat) search and HNSW at several ``efSearch``: recall@10 against exact,
p50/p95 ms per query; the HNSW build time; and BM25 (exact + folded, as hoidap scores it)
p50/p95 ms per query with its build time. Prints tables and writes bench/results/ann.json.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from benchutil import SHARED, save, table
from scale import CORPUS, article_documents, make_queries

from hoidap.config import ChunkingConfig, Config, VectorIndexConfig
from index.build import chunk_all
from index.chunking import embedding_text
from index.embedder import Embedder
from index.postings import build_postings
from index.segment import dense_spec, make_dense
from index.store import BM25View, load_index
from index.text import fold, tokens
from qa.evaluate import percentile
from qa.search.fusion import top_k

EF_SEARCH = (128, 256, 512, 1024)


def corpus_texts(keep, max_chars: int, needed: int) -> list[str]:
    """Embedded texts of the corpus articles for which ``keep(id)`` holds, chunked at
    ``max_chars``, until ``needed`` are reached."""
    config = replace(Config.from_env(), chunking=ChunkingConfig(max_chars=max_chars))
    texts: list[str] = []
    batch: list[dict] = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        for line in fh:
            if len(texts) >= needed:
                break
            art = json.loads(line)
            if keep(art["id"]):
                batch.append(art)
            if len(batch) == 500:
                texts += chunk_all(article_documents(batch), config)[1]
                batch = []
    if batch and len(texts) < needed:
        texts += chunk_all(article_documents(batch), config)[1]
    return texts[:needed]


def cached_vectors(embedder: Embedder, texts: list[str], path: Path) -> np.ndarray:
    """Passage vectors of ``texts``, embedded once and kept in ``path``."""
    if path.is_file():
        return np.load(path)
    t0 = time.perf_counter()
    vectors = embedder.encode_passages(texts)
    print(f"embedded {len(texts)} extra chunks in {time.perf_counter() - t0:.0f} s", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def vectors_and_texts(args: argparse.Namespace, embedder: Embedder
                      ) -> tuple[np.ndarray, list[str], list]:
    """The index's vectors and texts, topped up to ``args.target``: first the articles the
    index does not hold (600-character chunks), then, if still short, the held articles
    chunked again at 400 characters (different texts). Extra vectors are cached."""
    index = load_index(args.index)
    held = {d.source for d in index.documents.values()}
    texts = [embedding_text(index.documents[c.doc_id], c) for c in index.chunks]
    parts = [index.vectors()]
    for keep, max_chars in ((lambda i: i not in held, 600), (lambda i: i in held, 400)):
        need = args.target - len(texts)
        if need <= 0:
            break
        extra = corpus_texts(keep, max_chars, need)
        parts.append(cached_vectors(embedder, extra,
                                    args.cache / f"extra-{max_chars}-{len(extra)}.npy"))
        texts += extra
    docs = list(index.documents.values())
    return np.ascontiguousarray(np.concatenate(parts)), texts, docs


def questions(n: int) -> list[str]:
    """The first ``n`` XQuAD-vi questions."""
    data = json.loads((SHARED / "data" / "xquad.vi.json").read_text(encoding="utf-8"))
    out = [qa["question"] for art in data["data"] for p in art["paragraphs"] for qa in p["qas"]]
    return out[:n]


def timed_search(index, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, dict]:
    """Top-``k`` ids per query (one query at a time) and latency percentiles in ms."""
    ids, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, found = index.search(q[None, :], k)
        times.append((time.perf_counter() - t0) * 1000)
        ids.append(found[0])
    return np.array(ids), {"p50": round(percentile(times, 50), 2),
                           "p95": round(percentile(times, 95), 2)}


def recall_at(exact: np.ndarray, approx: np.ndarray) -> float:
    """Mean share of the exact top-k found by the approximate search."""
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact,
                                                                        strict=True)]))


def bench_vectors(vecs: np.ndarray, queries: np.ndarray) -> list[dict]:
    """Exact search, then HNSW (hoidap's parameters) at several efSearch."""
    flat = make_dense({"kind": "flat"}, vecs.shape[1])
    flat.add(vecs)
    exact, flat_ms = timed_search(flat, queries)
    rows = [{"index": "flat (exact)", "recall@10": 1.0, "ms": flat_ms, "build_s": 0.0}]
    spec = dense_spec(len(vecs), VectorIndexConfig(exact_below=0))
    hnsw = make_dense(spec, vecs.shape[1])
    t0 = time.perf_counter()
    hnsw.add(vecs)
    build_s = round(time.perf_counter() - t0, 1)
    for ef in EF_SEARCH:
        hnsw.hnsw.efSearch = ef
        found, ms = timed_search(hnsw, queries)
        rows.append({"index": f"HNSW M={spec['m']} efC={spec['ef_construction']} efS={ef}",
                     "recall@10": round(recall_at(exact, found), 4), "ms": ms,
                     "build_s": build_s})
    return rows


def bench_bm25(texts: list[str], queries: list[str]) -> dict:
    """Build time and per-query latency of hoidap's BM25 (exact + folded postings of one
    segment, top 50)."""
    t0 = time.perf_counter()
    exact = build_postings([tokens(t) for t in texts])
    folded = build_postings([tokens(fold(t)) for t in texts])
    bm25 = BM25View(((exact, None),), ((folded, None),), (np.arange(len(texts)),), len(texts))
    build_s = time.perf_counter() - t0
    times = []
    for q in queries:
        t0 = time.perf_counter()
        top_k(bm25.scores(q), 50, None)
        times.append((time.perf_counter() - t0) * 1000)
    return {"build_s": round(build_s, 1), "p50": round(percentile(times, 50), 2),
            "p95": round(percentile(times, 95), 2), "queries": len(queries)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True, help="prebuilt index to start from")
    ap.add_argument("--target", type=int, default=200_000, help="chunks to reach")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/hoidap/bench/ann")
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args(argv)
    embedder = Embedder(Config.from_env())
    vecs, texts, docs = vectors_and_texts(args, embedder)
    qs = questions(args.queries // 2) + make_queries(docs, args.queries // 2)
    qvecs = embedder.encode_queries(qs)
    rows = bench_vectors(vecs, qvecs)
    bm25 = bench_bm25(texts, qs)
    print(table(["vectors", "index", "recall@10", "p50 ms", "p95 ms", "build s"],
                [[len(vecs), r["index"], r["recall@10"], r["ms"]["p50"], r["ms"]["p95"],
                  r["build_s"]] for r in rows]))
    print()
    print(table(["chunks", "BM25 build s", "p50 ms", "p95 ms", "queries"],
                [[len(texts), bm25["build_s"], bm25["p50"], bm25["p95"], bm25["queries"]]]))
    result = {"chunks": len(texts), "queries": len(qs), "vectors": rows, "bm25": bm25}
    print(f"\nwritten {save('ann', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
