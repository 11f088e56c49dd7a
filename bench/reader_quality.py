"""Heuristic vs neural reader, end to end (retrieval + reading + refusal) on the same index.

    .venv/bin/python bench/reader_quality.py [--seeds-index DIR] [--xquad-limit N] [--only …]

Seeds QA (the public questions and tests/data/seeds_heldout.jsonl) uses a seeds index (built
into a temporary folder unless ``--seeds-index`` is given); XQuAD-vi (evaluation only) is
indexed into a temporary folder (240 paragraphs) and its first ``--xquad-limit`` questions are
asked. Writes bench/results/reader_quality.json.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from benchutil import ROOT, SHARED, save, table

from hoidap.config import Config, ReaderConfig
from index.embedder import Embedder
from qa.engine import QAEngine
from qa.evaluate import build_eval_index, evaluate, load_eval_set, summarize
from qa.search.write import build_index

KINDS = ("heuristic", "neural")
COLUMNS = ("em", "f1", "contains", "refused_answerable", "no_answer_precision",
           "no_answer_recall", "latency_p50_ms", "latency_p95_ms")


def compare(index: Path, examples, embedder: Embedder, kinds=KINDS) -> dict[str, dict]:
    out = {}
    for kind in kinds:
        config = Config.from_env(index_dir=index)
        config = replace(config, reader=replace(config.reader, kind=kind))
        engine = QAEngine(config, embedder=embedder).warm_up()
        engine.ask(examples[0].question)  # warm-up
        out[kind] = summarize(evaluate(engine, examples, k=5))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds-index", type=Path, default=None)
    p.add_argument("--xquad-limit", type=int, default=200)
    p.add_argument("--only", choices=["seeds", "xquad"])
    p.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    args = p.parse_args()
    embedder = Embedder(Config.from_env(reader=ReaderConfig()))
    results: dict[str, dict] = {}
    if args.only != "xquad":
        with tempfile.TemporaryDirectory(prefix="hoidap-rq-seeds-") as tmp:
            index = args.seeds_index or Path(tmp) / "index"
            if args.seeds_index is None:
                build_index([ROOT / "seeds"], Config.from_env(index_dir=index), embedder)
            for name, path in (("seeds", SHARED / "eval" / "seeds_qa.jsonl"),
                               ("seeds_heldout", ROOT / "tests" / "data" / "seeds_heldout.jsonl")):
                results[name] = compare(index, load_eval_set(path).examples, embedder,
                                        args.kinds)
    if args.only != "seeds":
        path = SHARED / "data" / "xquad.vi.json"
        data = load_eval_set(path)
        with tempfile.TemporaryDirectory(prefix="hoidap-rq-") as tmp:
            config = Config.from_env(index_dir=Path(tmp) / "index")
            build_eval_index(data, config, embedder, str(path))
            results["xquad_end_to_end"] = compare(config.index_dir,
                                                  data.examples[: args.xquad_limit], embedder,
                                                  args.kinds)
    for name, res in results.items():
        print(f"\n{name}")
        print(table(["reader", *COLUMNS], [[k, *(v.get(c) for c in COLUMNS)]
                                          for k, v in res.items()]))
    print(save("reader_quality", {"xquad_limit": args.xquad_limit, "results": results}))


if __name__ == "__main__":
    main()
