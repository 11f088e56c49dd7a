"""Retrieval and answer quality on XQuAD-vi and the seeds QA, for dense, BM25 and hybrid.

    .venv/bin/python bench/quality.py [--limit N] [--answer-limit N] [--only xquad|seeds]

One index build per data set (temporary folder), reused across the three retrieval modes.
Answers (EM/F1, no-answer) are read with the default pipeline (hybrid) on the first
``--answer-limit`` questions. Prints a table and writes bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from benchutil import ROOT, SHARED, save, table

from hoidap.config import Config
from qa.engine import QAEngine
from qa.evaluate import EvalSet, build_eval_index, evaluate, load_eval_set, summarize
from qa.search.write import build_index

MODES = ("dense", "bm25", "hybrid")
COLUMNS = ("recall@1", "recall@5", "mrr@10", "em", "f1", "contains", "sentence_contains",
           "passage_contains",
           "refused_answerable", "no_answer_precision", "no_answer_recall")


class CachedQueries:
    """The embedder with query embeddings memoised: the three modes and the reader embed each
    question once. Latencies measured through it are too low, so this bench reports none
    (see ``hoidap eval`` and bench/scale.py for latency)."""

    def __init__(self, embedder) -> None:
        self._embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str):
        return getattr(self._embedder, name)

    def encode_queries(self, texts, batch_size=None) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            rows = self._embedder.encode_queries(missing, batch_size=batch_size)
            self._cache.update(zip(missing, rows, strict=True))
        return np.stack([self._cache[t] for t in texts])


def _engine(config: Config) -> QAEngine:
    from index.embedder import Embedder

    return QAEngine(config, embedder=CachedQueries(Embedder(config)))


def _run_modes(engine: QAEngine, data: EvalSet, limit: int | None,
               answer_limit: int) -> dict[str, dict]:
    from tqdm import tqdm

    examples = data.examples[:limit] if limit else data.examples
    out = {}
    for mode in MODES:
        with tqdm(total=len(examples), desc=mode, unit="q", file=sys.stderr,
                  leave=False) as bar:
            n_read = answer_limit if mode == "hybrid" else 0
            results = evaluate(engine, examples[:n_read], mode=mode, progress=bar.update)
            results += evaluate(engine, examples[n_read:], mode=mode, read=False,
                                progress=bar.update)
        out[mode] = summarize(results, mode=mode) | {"answers_read": min(n_read, len(examples))}
    return out


def bench_xquad(path: Path, limit: int | None, answer_limit: int, config: Config) -> dict:
    """Index all XQuAD paragraphs, then evaluate the questions in three modes."""
    data = load_eval_set(path)
    engine = _engine(config)
    t0 = time.perf_counter()
    report = build_eval_index(data, config, engine.embedder, str(path))
    build_s = time.perf_counter() - t0
    engine.warm_up()
    return {"dataset": "xquad.vi", "documents": report.documents, "chunks": report.chunks,
            "build_s": round(build_s, 1), "modes": _run_modes(engine, data, limit, answer_limit)}


def bench_seeds(qa_path: Path, seeds: Path, answer_limit: int, config: Config) -> dict:
    """Index the seed articles, then evaluate seeds_qa.jsonl in three modes."""
    data = load_eval_set(qa_path)
    engine = _engine(config)
    report = build_index([seeds], config, engine.embedder, fresh=True)
    engine.warm_up()
    return {"dataset": "seeds_qa", "documents": report.documents, "chunks": report.chunks,
            "build_s": round(report.seconds, 1),
            "modes": _run_modes(engine, data, None, answer_limit)}


def _rows(result: dict) -> list[list[object]]:
    return [[result["dataset"], mode] + [m.get(c) for c in COLUMNS]
            for mode, m in result["modes"].items()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--xquad", type=Path, default=SHARED / "data" / "xquad.vi.json")
    ap.add_argument("--seeds-qa", type=Path, default=SHARED / "eval" / "seeds_qa.jsonl")
    ap.add_argument("--seeds", type=Path, default=ROOT / "seeds")
    ap.add_argument("--limit", type=int, help="XQuAD questions for retrieval (default: all)")
    ap.add_argument("--answer-limit", type=int, default=200,
                    help="questions read by the answer reader (hybrid), default 200")
    ap.add_argument("--only", choices=["xquad", "seeds"])
    args = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="hoidap-bench-") as tmp:
        base = replace(Config.from_env(), engine="local")  # the folders built here
        if args.only != "seeds":
            cfg = replace(base, index_dir=Path(tmp) / "xquad")
            results.append(bench_xquad(args.xquad, args.limit, args.answer_limit, cfg))
        if args.only != "xquad":
            cfg = replace(base, index_dir=Path(tmp) / "seeds")
            results.append(bench_seeds(args.seeds_qa, args.seeds, args.answer_limit, cfg))
    rows = [row for r in results for row in _rows(r)]
    print(table(["data", "mode", *COLUMNS], rows))
    name = f"quality-{args.only}" if args.only else "quality"
    path = save(name, {"args": {k: str(v) for k, v in vars(args).items()}, "results": results})
    print(f"\nwritten {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
