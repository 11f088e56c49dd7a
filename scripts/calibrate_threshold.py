"""Calibrate the heuristic reader's refusal threshold on data (reproducible; prints the table).

Sets (never XQuAD):
* ``zalo``: a fixed-seed sample of <shared>/data/train/zalo2019_squad_v2.json (SQuAD 2.0,
  about one third answerable), its paragraphs indexed as documents;
* ``uit``: a fixed-seed sample of uit_train_reg.json + uit_train_wiki.json (answerable), its
  paragraphs indexed likewise;
* ``seeds``: the project's seeds questions (eval/seeds_qa.jsonl + tests/data/seeds_heldout.jsonl,
  answerable and unanswerable) over an index of seeds/.

Each question is asked end to end (``QAEngine.ask``: hybrid retrieval, then the heuristic reader)
with refusal switched off, and the top answer's score is recorded with whether it is right
(gold contained, or token F1 >= 0.5; for seeds also the right document). A threshold ``t``
answers when score >= t; the decision is right for an answerable question answered correctly
and for an unanswerable one refused. The chosen threshold maximises the mean of the per-set
accuracies (each source counts once: pooled by count, Zalo's two-thirds unanswerable share
would decide alone, and "refuse everything" already scores 0.67 there).

    .venv/bin/python scripts/calibrate_threshold.py                 # run and print
    .venv/bin/python scripts/calibrate_threshold.py --from results.jsonl   # table only
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
from qa.evaluate import (  # noqa: E402
    EvalSet,
    Example,
    contains_answer,
    load_eval_set,
    paragraph_documents,
    token_f1,
)

DATA = shared_dir() / "data" / "train"
SEEDS_QA = shared_dir() / "eval" / "seeds_qa.jsonl"
HELDOUT = ROOT / "tests" / "data" / "seeds_heldout.jsonl"
GRID = [round(0.05 * i, 2) for i in range(20)]


def sample(data: EvalSet, n: int, seed: int) -> EvalSet:
    """``n`` examples drawn with a fixed seed, with the paragraphs they need."""
    rng = random.Random(seed)
    examples = list(data.examples)
    picked = examples if n >= len(examples) else rng.sample(examples, n)
    needed = {e.doc for e in picked}
    return EvalSet(tuple(picked), tuple(p for p in data.paragraphs if p.doc_id in needed))


def merge(sets: list[tuple[str, EvalSet]]) -> EvalSet:
    """One set from several, doc ids prefixed by their set name."""
    examples, paragraphs = [], []
    for name, data in sets:
        examples += [replace(e, doc=f"{name}-{e.doc}", qid=f"{name}-{e.qid}")
                     for e in data.examples]
        paragraphs += [replace(p, doc_id=f"{name}-{p.doc_id}") for p in data.paragraphs]
    return EvalSet(tuple(examples), tuple(paragraphs))


def engine_for(index_dir: Path, embedder, kind: str = "heuristic"):
    """An engine that never refuses (every refusal threshold 0), with reader ``kind`` (here:
    always the heuristic one; scripts/calibrate_confidence.py asks with each reader)."""
    from qa.engine import QAEngine

    reader = ReaderConfig(no_answer_threshold=0.0, neural_no_answer_threshold=0.0, kind=kind)
    return QAEngine(Config.from_env(index_dir=index_dir, reader=reader), embedder=embedder)


def build(data: EvalSet, source: str, index_dir: Path, embedder) -> None:
    """Index the paragraphs of ``data`` (one document each) into ``index_dir``."""
    from qa.search.write import build_index

    config = Config.from_env(index_dir=index_dir)
    docs = paragraph_documents(data.paragraphs, source)
    build_index([], config, embedder, fresh=True, documents=docs)


def is_correct(text: str, example: Example, doc_id: str, check_doc: bool) -> bool:
    """Gold contained in the answer (or F1 >= 0.5), from the right document when asked."""
    if not example.answers:
        return False
    if check_doc and example.doc and doc_id != example.doc:
        return False
    return contains_answer(text, example.answers) or token_f1(text, example.answers) >= 0.5


def ask_all(name: str, engine, examples: list[Example], check_doc: bool, out,
            tags: dict | None = None, every: int = 50) -> list[dict]:
    """Ask every question; write and return one record each (plus ``tags``, e.g. the reader,
    and the question's document)."""
    rows = []
    for i, ex in enumerate(examples, 1):
        t = time.perf_counter()
        result = engine.ask(ex.question)
        top = result.answers[0] if result.answers else None
        row = {"set": name, **(tags or {}), "qid": ex.qid, "doc": ex.doc,
               "question": ex.question, "answerable": ex.answerable,
               "score": top.score if top else 0.0, "answer": top.text if top else None,
               "correct": bool(top) and is_correct(top.text, ex, top.citation.doc_id, check_doc),
               "seconds": round(time.perf_counter() - t, 3)}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.flush()
        rows.append(row)
        if i % every == 0:
            print(f"  {name}: {i}/{len(examples)}", file=sys.stderr, flush=True)
    return rows


def decisions(rows: list[dict], t: float) -> dict[str, float]:
    """Accuracy and refusal rates of threshold ``t``."""
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    right = sum(r["score"] >= t and r["correct"] for r in ans) + sum(r["score"] < t for r in una)
    return {
        "acc": right / len(rows) if rows else 0.0,
        "ans_refused": sum(r["score"] < t for r in ans) / len(ans) if ans else 0.0,
        "ans_wrong": sum(r["score"] >= t and not r["correct"] for r in ans) / len(ans)
        if ans else 0.0,
        "una_refused": sum(r["score"] < t for r in una) / len(una) if una else 0.0,
    }


def macro_accuracy(rows: list[dict], t: float) -> float:
    """Mean over sets of the decision accuracy of threshold ``t``."""
    sets = sorted({r["set"] for r in rows})
    return sum(decisions([r for r in rows if r["set"] == s], t)["acc"] for s in sets) / len(sets)


def best_threshold(rows: list[dict], macro: bool = False) -> float:
    """The threshold (0.01 grid) with the best (macro) decision accuracy (middle of ties)."""
    grid = [i / 100 for i in range(100)]
    accs = [macro_accuracy(rows, t) if macro else decisions(rows, t)["acc"] for t in grid]
    top = max(accs)
    ties = [t for t, a in zip(grid, accs, strict=True) if a == top]
    return ties[len(ties) // 2]


def print_table(rows: list[dict]) -> float:
    """Per-set and pooled decision table; returns the chosen threshold."""
    sets = sorted({r["set"] for r in rows})
    groups = [(s, [r for r in rows if r["set"] == s]) for s in sets] + [("all", rows)]
    for name, group in groups:
        n_ans = sum(r["answerable"] for r in group)
        top1 = sum(r["correct"] for r in group if r["answerable"])
        print(f"\n[{name}] {len(group)} questions: {n_ans} answerable "
              f"(top answer right for {top1}), {len(group) - n_ans} unanswerable; "
              f"best threshold {best_threshold(group):.2f}")
        print("  t     acc    answerable: refused  answered-wrong   unanswerable: refused"
              + ("   macro-acc" if name == "all" else ""))
        for t in GRID:
            d = decisions(group, t)
            macro = f"      {macro_accuracy(rows, t):.3f}" if name == "all" else ""
            print(f"  {t:.2f}  {d['acc']:.3f}              {d['ans_refused']:.3f}    "
                  f"{d['ans_wrong']:.3f}             {d['una_refused']:.3f}{macro}")
    chosen = best_threshold(rows, macro=True)
    print(f"\nchosen threshold {chosen:.2f} (best mean per-set accuracy "
          f"{macro_accuracy(rows, chosen):.3f}):")
    for name, group in groups:
        d = decisions(group, chosen)
        print(f"  {name:6s} accuracy {d['acc']:.3f}, answerable refused {d['ans_refused']:.3f},"
              f" answered wrong {d['ans_wrong']:.3f}, unanswerable refused "
              f"{d['una_refused']:.3f}")
    secs = sorted(r["seconds"] for r in rows)
    print(f"latency per ask: p50 {secs[len(secs) // 2]:.3f}s, "
          f"p95 {secs[int(0.95 * (len(secs) - 1))]:.3f}s")
    return chosen


def run(args: argparse.Namespace) -> list[dict]:
    """Build the indexes, ask everything, return the records (also written to --out)."""
    from index.embedder import Embedder

    embedder = Embedder(Config.from_env())
    embedder.warm_up()
    zalo = sample(load_eval_set(DATA / "zalo2019_squad_v2.json"), args.zalo, args.seed)
    uit = sample(merge([("reg", load_eval_set(DATA / "uit_train_reg.json")),
                        ("wiki", load_eval_set(DATA / "uit_train_wiki.json"))]),
                 args.uit, args.seed)
    seeds = [e for path in (SEEDS_QA, HELDOUT) for e in load_eval_set(path).examples]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, open(args.out, "w", encoding="utf-8") as out:
        for name, data in (("zalo", zalo), ("uit", uit)):
            print(f"indexing {name}: {len(data.paragraphs)} paragraphs", file=sys.stderr)
            build(data, name, Path(tmp) / name, embedder)
            rows += ask_all(name, engine_for(Path(tmp) / name, embedder),
                            list(data.examples), False, out)
        from qa.search.write import build_index

        build_index([ROOT / "seeds"], Config.from_env(index_dir=Path(tmp) / "seeds"), embedder,
                    fresh=True)
        rows += ask_all("seeds", engine_for(Path(tmp) / "seeds", embedder), seeds, True, out)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zalo", type=int, default=600, help="Zalo questions to sample")
    parser.add_argument("--uit", type=int, default=200, help="UIT questions to sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("calibration_results.jsonl"))
    parser.add_argument("--from", dest="source", type=Path, default=None,
                        help="print the table from a results file instead of running")
    args = parser.parse_args()
    if args.source:
        rows = [json.loads(line) for line in args.source.read_text().splitlines() if line]
    else:
        rows = run(args)
    print_table(rows)


if __name__ == "__main__":
    main()
