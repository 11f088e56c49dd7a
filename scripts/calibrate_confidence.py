"""Fit each reader's confidence calibration (raw score -> P(right)) on held-out data.

Sets (never XQuAD, never a reader's training split):
* ``vinewsqa``: a fixed-seed sample of <shared>/data/train/vinewsqa_dev.json (UIT-ViNewsQA dev,
  health news; no reader saw it), asked over an index of all its 500 articles;
* ``heldout``: a fixed-seed sample of the neural reader's calibration split (6% of the Vietnamese
  training contexts, seed 13, held out of its training; 28% unanswerable), asked over an index
  of all the split's contexts;
* ``seeds`` (check only, never fitted): the seeds questions over seeds/.

Each question is asked end to end (``QAEngine.ask``: hybrid retrieval over the whole index,
then the reader) with refusal off; the top answer is right when it contains a gold answer or
has token F1 >= 0.5 with one, from the right document (as in scripts/calibrate_threshold.py).
Documents of vinewsqa + heldout are split in two halves (seed 0): the map is fitted on the
"fit" half and its expected calibration error measured on the "check" half.

    .venv/bin/python scripts/calibrate_confidence.py --out confidence_results.jsonl --write
    .venv/bin/python scripts/calibrate_confidence.py --from confidence_results.jsonl --write
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from calibrate_threshold import (  # noqa: E402
    DATA,
    HELDOUT,
    SEEDS_QA,
    ask_all,
    build,
    engine_for,
    sample,
)

from hoidap.config import Config  # noqa: E402
from qa.calibration import (  # noqa: E402
    TABLE_FILE,
    CalibrationMap,
    CalibrationTable,
    expected_calibration_error,
    fit_isotonic,
    question_group,
    reliability,
)
from qa.evaluate import EvalSet, Example, Paragraph, load_eval_set  # noqa: E402

HIGH, LOW = 0.8, 0.5  # level thresholds on the calibrated figure (docs/calibration.md)
GROUP_MIN = 150  # fit questions a question group needs for a map of its own
READER_FILES = ("qa/reader.py", "qa/spans.py", "qa/scoring.py", "qa/qtype.py", "qa/candidates.py",
                "qa/lexicon.py", "index/text.py")


def heldout_split(seed: int = 13, fraction: float = 0.06) -> EvalSet:
    """The neural reader's calibration split, exactly as scripts/train_reader.py draws it."""
    import train_reader as tr

    items = [it for rel in tr.VI_TRAIN for it in tr.load_items(DATA.parent / rel, rel)[0]]
    _, calib = tr.split(items, fraction, seed)
    groups = sorted({it.group for it in calib})
    ids = {g: f"h{i}" for i, g in enumerate(groups)}
    contexts = {it.group: it.context for it in calib}
    examples = tuple(Example(f"{ids[it.group]}-{n}", it.question, it.golds if it.answer else (),
                             ids[it.group]) for n, it in enumerate(calib))
    paragraphs = tuple(Paragraph(ids[g], g.split(":")[0].split("/")[-1], contexts[g])
                       for g in groups)
    return EvalSet(examples, paragraphs)


def run(args: argparse.Namespace) -> list[dict]:
    """Build the indexes, ask everything with each reader, return the records."""
    from index.embedder import Embedder
    from qa.search.write import build_index

    embedder = Embedder(Config.from_env())
    embedder.warm_up()
    news = load_eval_set(DATA / "vinewsqa_dev.json")
    news_q = sample(news, args.vinewsqa, args.seed).examples
    held = heldout_split()
    held_q = sample(held, args.heldout, args.seed).examples
    seeds = [e for path in (SEEDS_QA, HELDOUT) for e in load_eval_set(path).examples]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp, open(args.out, "w", encoding="utf-8") as out:
        jobs = [("vinewsqa", news, news_q), ("heldout", held, held_q)]
        for name, data, _ in jobs:
            print(f"indexing {name}: {len(data.paragraphs)} contexts", file=sys.stderr)
            build(data, name, Path(tmp) / name, embedder)
        build_index([ROOT / "seeds"], Config.from_env(index_dir=Path(tmp) / "seeds"), embedder,
                    fresh=True)
        jobs.append(("seeds", EvalSet(tuple(seeds)), tuple(seeds)))
        for kind in args.readers:
            for name, _, questions in jobs:
                rows += ask_all(name, engine_for(Path(tmp) / name, embedder, kind),
                                list(questions), True, out, {"reader": kind}, every=100)
    return rows


def halves(rows: list[dict], seed: int) -> dict[str, str]:
    """Document -> "fit" or "check" (half the documents of each set each, fixed seed)."""
    side: dict[str, str] = {}
    for name in sorted({r["set"] for r in rows}):
        docs = sorted({str(r["doc"]) for r in rows if r["set"] == name})
        random.Random(seed).shuffle(docs)
        side |= {f"{name}/{d}": "fit" if i % 2 == 0 else "check" for i, d in enumerate(docs)}
    return side


def reader_version(kind: str) -> str:
    """What the map was fitted for: the neural weights' digest, the heuristic code's digest."""
    if kind == "neural":
        from qa.neural import MODEL_DIR, read_manifest
        from qa.neural_onnx import weights_digest

        return f"neural v{read_manifest(MODEL_DIR)['version']} weights " \
               f"{weights_digest(MODEL_DIR)[:12]}"
    h = hashlib.sha256()
    for rel in READER_FILES:
        h.update((ROOT / rel).read_bytes())
    return f"heuristic code {h.hexdigest()[:12]} ({', '.join(READER_FILES)})"


def fit_maps(fit: list[dict], kind: str) -> dict[str, CalibrationMap]:
    """The reader's map, plus one per question group with at least GROUP_MIN fit questions."""
    maps = {kind: fit_isotonic([r["score"] for r in fit], [r["correct"] for r in fit])}
    for group in ("figure", "other"):
        mine = [r for r in fit if question_group(r["question"]) == group]
        if len(mine) >= GROUP_MIN:
            maps[f"{kind}/{group}"] = fit_isotonic([r["score"] for r in mine],
                                                   [r["correct"] for r in mine])
    return maps


def print_bins(label: str, probs: list[float], right: list[bool]) -> None:
    """One reliability table."""
    print(f"    bins of the {label}:  lo-hi  n  mean  right")
    for b in reliability(probs, right):
        print(f"      {b.lo:.1f}-{b.hi:.1f}  {b.n:4d}  {b.mean_score:.3f}  {b.right:.3f}")


def check_group(table: CalibrationTable, kind: str, group: list[dict]) -> dict:
    """ECE of the raw score and of the calibrated figure on ``group``, bins and levels."""
    raw = [min(1.0, r["score"]) for r in group]
    conf = [table.confidence(kind, r["score"], question_group(r["question"])) for r in group]
    cal = [c.value for c in conf]  # type: ignore[union-attr]
    right = [r["correct"] for r in group]
    out = {"n": len(group), "right": round(sum(right) / len(group), 4),
           "ece_raw": round(expected_calibration_error(raw, right), 4),
           "ece_calibrated": round(expected_calibration_error(cal, right), 4)}
    print(f"  n {out['n']}, right {out['right']:.3f}; ECE raw score {out['ece_raw']:.3f}, "
          f"calibrated {out['ece_calibrated']:.3f}")
    print_bins("raw score", raw, right)
    print_bins("calibrated figure", cal, right)
    for lv in ("high", "medium", "low"):
        inside = [r for c, r in zip(conf, right, strict=True) if c.level == lv]  # type: ignore
        share = sum(inside) / len(inside) if inside else 0.0
        out[lv] = {"n": len(inside), "right": round(share, 4)}
        print(f"    level {lv}: {len(inside)} answers, {share:.3f} right")
    return out


def report(rows: list[dict], kind: str, side: dict[str, str]) -> tuple[dict, dict]:
    """Fit one reader's maps on the fit half, print the reliability tables of the check half
    and of the seeds; return the maps and the summary."""
    mine = [r for r in rows if r["reader"] == kind]
    fitted = [r for r in mine if r["set"] != "seeds"]
    fit = [r for r in fitted if side[f"{r['set']}/{r['doc']}"] == "fit"]
    check = [r for r in fitted if side[f"{r['set']}/{r['doc']}"] == "check"]
    maps = fit_maps(fit, kind)
    table = CalibrationTable(maps, HIGH, LOW, {})
    print(f"\n== {kind}: fit {len(fit)} questions, check {len(check)}")
    for key, cmap in maps.items():
        knots = zip(cmap.knots, cmap.values, cmap.counts, strict=True)
        print(f"  map {key}: score -> P(right) (n): " + ", ".join(
            f"{k:.3f}->{v:.2f} ({n})" for k, v, n in knots))
    summary: dict = {"fit": len(fit), "check": len(check)}
    groups = [("check", check)]
    groups += [(f"check {s}", [r for r in check if r["set"] == s]) for s in ("vinewsqa", "heldout")]
    groups += [(f"check {g} questions", [r for r in check if question_group(r["question"]) == g])
               for g in ("figure", "other")]
    groups += [("seeds", [r for r in mine if r["set"] == "seeds"])]
    for name, group in groups:
        if group:
            print(f" [{name}]")
            summary[name] = check_group(table, kind, group)
    return {k: m.to_dict() for k, m in maps.items()}, summary


def load_rows(paths: list[Path]) -> list[dict]:
    """Records of results files; a question asked in several runs (same reader, set and id)
    counts once; a line cut short by an interrupted run is skipped."""
    rows, seen = [], set()
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            key = (row["reader"], row["set"], row["qid"])
            if key not in seen:
                seen.add(key)
                rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vinewsqa", type=int, default=500, help="ViNewsQA questions")
    parser.add_argument("--heldout", type=int, default=500, help="calibration-split questions")
    parser.add_argument("--readers", nargs="+", default=["heuristic", "neural"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("confidence_results.jsonl"))
    parser.add_argument("--from", dest="source", type=Path, nargs="+", default=None,
                        help="fit from results files instead of running")
    parser.add_argument("--write", action="store_true", help=f"write {TABLE_FILE}")
    args = parser.parse_args()
    started = time.time()
    if args.source:
        rows = load_rows(args.source)
    else:
        rows = run(args)
        print(f"asked {len(rows)} questions in {(time.time() - started) / 60:.1f} min",
              file=sys.stderr)
    side = halves(rows, args.seed)
    maps, summaries = {}, {}
    for kind in sorted({r["reader"] for r in rows}):
        kind_maps, summaries[kind] = report(rows, kind, side)
        maps |= kind_maps
        summaries[kind]["version"] = reader_version(kind)
    if args.write:
        table = CalibrationTable({}, HIGH, LOW, {})
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
        data = table.to_dict() | {
            "readers": maps, "date": dt.date.today().isoformat(), "commit": commit,
            "data": {"fit": "vinewsqa_dev.json + the neural reader's calibration split "
                            "(samples), the 'fit' half of their documents (seed 0)",
                     "sizes": {k: {s: sum(1 for r in rows if r["set"] == s and r["reader"] == k)
                                   for s in ("vinewsqa", "heldout", "seeds")} for k in summaries},
                     "xquad": "not used"},
            "right": "top answer contains a gold answer or token F1 >= 0.5, right document",
            "summary": summaries, "script": "scripts/calibrate_confidence.py"}
        TABLE_FILE.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n",
                              encoding="utf-8")
        print(f"wrote {TABLE_FILE}")


if __name__ == "__main__":
    main()
