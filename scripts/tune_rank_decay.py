"""Choose ``reader.neural_rank_decay`` on the Vietnamese dev set (ViQuAD dev), end to end.

Indexes every ViQuAD dev paragraph, retrieves the top passages for a fixed-seed sample of its
questions (hybrid, as ``ask`` does), runs the trained reader once per question, then scores the
top answer under each decay of the prior ``exp(-decay * rank)`` (0: the reader alone; large:
the first passage only). XQuAD-vi is never used here.

    .venv/bin/python scripts/tune_rank_decay.py [--questions 600]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hoidap.config import Config, ReaderConfig, shared_dir  # noqa: E402
from qa.engine import QAEngine  # noqa: E402
from qa.evaluate import build_eval_index, exact_match, load_eval_set, token_f1  # noqa: E402
from qa.neural import NeuralReader, rank_with_retrieval, type_factor  # noqa: E402
from qa.qtype import classify  # noqa: E402

DECAYS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 50.0)


def collect(engine: QAEngine, reader: NeuralReader, examples, passages_n: int) -> list[dict]:
    """Per question: golds, passages and the reader's type-rescored spans."""
    rows = []
    for ex in examples:
        passages = engine.search(ex.question, k=passages_n)
        spans = reader.predict(ex.question, [p.text for p in passages])
        qtype = classify(ex.question).qtype
        own = [(i, a, b, s * type_factor(qtype, passages[i].text[a:b])) for i, a, b, s in spans]
        rows.append({"golds": ex.answers, "texts": [p.text for p in passages], "spans": own})
    return rows


def score(rows: list[dict], decay: float) -> tuple[float, float]:
    """EM and F1 of the top answer under ``decay``."""
    em = f1 = 0.0
    for r in rows:
        ranked = rank_with_retrieval(r["spans"], decay)
        pred = r["texts"][ranked[0][0]][ranked[0][1]:ranked[0][2]] if ranked else ""
        em += exact_match(pred, r["golds"])
        f1 += token_f1(pred, r["golds"])
    return em / len(rows), f1 / len(rows)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=shared_dir() / "data" / "train" /
                   "viquad_dev.json")
    p.add_argument("--questions", type=int, default=600)
    p.add_argument("--seed", type=int, default=13)
    args = p.parse_args()
    data = load_eval_set(args.data)
    examples = [e for e in data.examples if e.answerable]
    examples = random.Random(args.seed).sample(examples, min(args.questions, len(examples)))
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="hoidap-tune-") as tmp:
        config = Config.from_env(index_dir=Path(tmp) / "index", engine="local",
                                 reader=ReaderConfig(kind="neural"))
        engine = QAEngine(config)
        build_eval_index(data, config, engine.embedder, str(args.data))
        reader = NeuralReader(replace(config)).load()
        rows = collect(engine, reader, examples, config.reader.passages)
    print(f"{len(rows)} questions read in {(time.time() - t0) / 60:.1f} min")
    print("| decay | EM | F1 |\n|---|---|---|")
    results = {}
    for d in DECAYS:
        em, f1 = score(rows, d)
        results[d] = (em, f1)
        print(f"| {d} | {em:.4f} | {f1:.4f} |")
    best = max(DECAYS, key=lambda d: (round(results[d][1], 3), -abs(d - 0.3)))
    print(json.dumps({"best_decay": best, "em": results[best][0], "f1": results[best][1],
                      "questions": len(rows), "data": str(args.data.name)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
