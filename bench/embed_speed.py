"""Passage embedding throughput: the plain fp32 torch backend against the bf16 backend.

    .venv/bin/python bench/embed_speed.py [--chunks 600] [--rounds 2]

Both backends run in this one process on the same real chunks (VNTC news articles, cleaned and
chunked as indexing does, title-prefixed), alternating fp32, bf16, fp32, bf16... so that load
on the machine hits both alike. Reports chunks/s of each, the ratio, and the cosine between
the two backends' vectors. Prints a table and writes bench/results/embed_speed.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

import numpy as np
from benchutil import save, table
from scale import CORPUS, article_documents, sample_articles

from hoidap.config import Config
from index.build import chunk_all
from index.embedder import Embedder


def sample_chunks(n: int) -> list[str]:
    """The embedded texts of the first ``n`` chunks of evenly sampled articles."""
    docs = article_documents(sample_articles(CORPUS, max(10, n // 4)))
    _, texts = chunk_all(docs, Config())
    return texts[:n]


def timed(embedder: Embedder, texts: list[str]) -> tuple[np.ndarray, float]:
    """Vectors and seconds for one pass over ``texts``."""
    t0 = time.perf_counter()
    vectors = embedder.encode_passages(texts)
    return vectors, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chunks", type=int, default=600)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    texts = sample_chunks(args.chunks)
    base = Config.from_env()
    backends = {name: Embedder(replace(base, embed_backend=name)) for name in ("fp32", "bf16")}
    for emb in backends.values():  # load and warm up outside the timing
        emb.encode_passages(texts[:64])
    seconds = {name: 0.0 for name in backends}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        for name, emb in backends.items():
            vectors[name], s = timed(emb, texts)
            seconds[name] += s
    rate = {name: args.rounds * len(texts) / s for name, s in seconds.items()}
    cos = (vectors["fp32"] * vectors["bf16"]).sum(axis=1)
    result = {"chunks": len(texts), "rounds": args.rounds,
              "backend_used": {n: e.backend for n, e in backends.items()},
              "chunks_per_s": {n: round(r, 1) for n, r in rate.items()},
              "ratio": round(rate["bf16"] / rate["fp32"], 2),
              "cosine_min": round(float(cos.min()), 5), "cosine_mean": round(float(cos.mean()), 5),
              "mean_chars": round(float(np.mean([len(t) for t in texts])), 1)}
    print(table(["chunks", "fp32 chunks/s", "bf16 chunks/s", "ratio", "cosine min", "cosine mean"],
                [[len(texts), result["chunks_per_s"]["fp32"], result["chunks_per_s"]["bf16"],
                  result["ratio"], result["cosine_min"], result["cosine_mean"]]]))
    print(f"\nwritten {save('embed_speed', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
