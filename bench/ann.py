"""Vector and BM25 search at 200k chunks: HNSW recall@10 against exact search, and latencies.

    .venv/bin/python bench/ann.py --index /work/bench-data/scale/20000 [--target 200000]

Starts from a prebuilt index (``bench/scale.py --keep``: 20k VNTC articles, ~110k chunks, real
vectors) and tops it up to ``--target`` chunks with the articles that index does not hold,
chunked smaller (600 characters) so the rest of the corpus reaches the target. The extra
vectors are embedded once (passage backend of this machine) and cached in ``--cache``.
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
from index.bm25 import BM25Pair, exact_tokens, folded_tokens
from index.build import chunk_all
from index.chunking import embedding_text
from index.embedder import Embedder
from index.store import dense_spec, load_index, make_dense
from qa.evaluate import percentile
from qa.fusion import top_k

EF_SEARCH = (32, 64, 128, 256)


def extra_documents(held: set[str], needed_chunks: int, config: Config) -> list[str]:
    """Embedded texts of corpus articles not in ``held``, until ``needed_chunks`` are reached."""
    texts: list[str] = []
    with gzip.open(CORPUS, "rt", encoding="utf-8") as fh:
        batch: list[dict] = []
        for line in fh:
            art = json.loads(line)
            if art["id"] not in held:
                batch.append(art)
            if len(batch) == 500:
                texts += chunk_all(article_documents(batch), config)[1]
                batch = []
                if len(texts) >= needed_chunks:
                    break
        if batch and len(texts) < needed_chunks:
            texts += chunk_all(article_documents(batch), config)[1]
    return texts[:needed_chunks]


def vectors_and_texts(args: argparse.Namespace, embedder: Embedder
                      ) -> tuple[np.ndarray, list[str], list]:
    """The index's vectors and texts, topped up to ``args.target`` (extra vectors cached)."""
    index = load_index(args.index)
    held = {d.source for d in index.documents.values()}
    texts = [embedding_text(index.documents[c.doc_id], c) for c in index.chunks]
    need = max(0, args.target - len(texts))
    config = replace(Config.from_env(), chunking=ChunkingConfig(max_chars=600))
    extra = extra_documents(held, need, config) if need else []
    cache = args.cache / f"extra-{len(extra)}.npy"
    if cache.is_file():
        extra_vecs = np.load(cache)
    else:
        t0 = time.perf_counter()
        extra_vecs = embedder.encode_passages(extra)
        print(f"embedded {len(extra)} extra chunks in {time.perf_counter() - t0:.0f} s",
              flush=True)
        args.cache.mkdir(parents=True, exist_ok=True)
        np.save(cache, extra_vecs)
    vecs = np.concatenate([np.asarray(index.embeddings, np.float32), extra_vecs])
    docs = list(index.documents.values())
    return np.ascontiguousarray(vecs), texts + extra, docs


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


def _bm25s_scores(bm25: BM25Pair, query: str) -> np.ndarray:
    """The same exact + folded sum through bm25s's own ``get_scores`` (before: np.add.at)."""
    out = np.zeros(bm25.size, dtype=np.float32)
    for model, toks in ((bm25.exact, exact_tokens(query)), (bm25.folded, folded_tokens(query))):
        toks = [t for t in toks if t in model.vocab_dict]
        if toks:
            out += model.get_scores(toks)
    return out


def bench_bm25(texts: list[str], queries: list[str]) -> dict:
    """Build time and per-query latency of hoidap's BM25 pair (scores + top 50), and of the
    same scores through bm25s's ``get_scores`` (what hoidap used before), same queries."""
    t0 = time.perf_counter()
    bm25 = BM25Pair.build(texts)
    build_s = time.perf_counter() - t0
    result: dict = {"build_s": round(build_s, 1), "queries": len(queries)}
    for name, scores in (("bm25s get_scores", lambda q: _bm25s_scores(bm25, q)),
                         ("hoidap posting_sum", bm25.scores)):
        times = []
        for q in queries:
            t0 = time.perf_counter()
            top_k(scores(q), 50, None)
            times.append((time.perf_counter() - t0) * 1000)
        result[name] = {"p50": round(percentile(times, 50), 2),
                        "p95": round(percentile(times, 95), 2)}
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, required=True, help="prebuilt index to start from")
    ap.add_argument("--target", type=int, default=200_000, help="chunks to reach")
    ap.add_argument("--cache", type=Path, default=Path("/work/bench-data/ann"))
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
    print(table(["chunks", "BM25 scoring", "build s", "p50 ms", "p95 ms", "queries"],
                [[len(texts), name, bm25["build_s"], bm25[name]["p50"], bm25[name]["p95"],
                  bm25["queries"]] for name in ("bm25s get_scores", "hoidap posting_sum")]))
    result = {"chunks": len(texts), "queries": len(qs), "vectors": rows, "bm25": bm25}
    print(f"\nwritten {save('ann', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
