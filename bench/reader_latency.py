"""Reader latency per question over the top-5 retrieved passages: neural (ORT, torch), heuristic.

    .venv/bin/python bench/reader_latency.py [--index DIR] [--questions FILE] [--repeat N]

Retrieval is done once per question beforehand; only ``reader.read`` is timed (wall clock,
after one warm-up question). Writes bench/results/reader_latency.json.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from benchutil import SHARED, save, table

from hoidap.config import Config
from qa.engine import QAEngine
from qa.evaluate import percentile


def _questions(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def _readers(config: Config, engine: QAEngine) -> dict[str, object]:
    from qa.neural import NeuralReader
    from qa.reader import HeuristicReader

    emb = engine.embedder
    return {"neural onnx": NeuralReader(replace(config, query_backend="onnx")).load(),
            "neural torch": NeuralReader(replace(config, query_backend="torch")).load(),
            "heuristic": HeuristicReader(embed_queries=emb.encode_queries,
                                         embed_passages=emb.encode_passages)}


def run(index: Path, questions: list[str], repeat: int) -> dict[str, dict]:
    config = Config.from_env(index_dir=index)
    engine = QAEngine(replace(config), reader=None).warm_up()
    docs = engine.index.documents
    retrieved = [(q, engine.search(q, k=config.reader.passages)) for q in questions]
    out = {}
    for name, reader in _readers(config, engine).items():
        reader.read(*retrieved[0], docs)  # warm-up
        times = []
        for _ in range(repeat):
            for q, passages in retrieved:
                t0 = time.perf_counter()
                reader.read(q, passages, docs)
                times.append((time.perf_counter() - t0) * 1000)
        out[name] = {"questions": len(times), "p50_ms": round(percentile(times, 50), 1),
                     "p95_ms": round(percentile(times, 95), 1),
                     "passages": config.reader.passages}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", type=Path, default=Config.from_env().resolved_index_dir)
    p.add_argument("--questions", type=Path, default=SHARED / "eval" / "seeds_qa.jsonl")
    p.add_argument("--repeat", type=int, default=2)
    args = p.parse_args()
    results = run(args.index, _questions(args.questions), args.repeat)
    print(table(["reader", "questions", "p50 ms", "p95 ms"],
                [[k, v["questions"], v["p50_ms"], v["p95_ms"]] for k, v in results.items()]))
    print(save("reader_latency", {"index": str(args.index), "results": results}))


if __name__ == "__main__":
    main()
