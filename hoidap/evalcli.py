"""``hoidap eval FILE``: retrieval and answer metrics on a SQuAD or JSONL question file, or
conversational metrics on a CoQA / ViCoQA file (``--conversations``)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from hoidap.cliutil import print_json, progress_bar
from hoidap.config import Config
from hoidap.errors import InputError

_LABELS = (
    ("questions", "questions"), ("answerable", "answerable"), ("unanswerable", "unanswerable"),
    ("mode", "retrieval mode"), ("reader", "reader"), ("recall@1", "R@1"), ("recall@5", "R@5"),
    ("mrr@10", "MRR@10"), ("em", "answer EM"), ("f1", "answer F1"),
    ("contains", "answer contains gold"), ("sentence_contains", "answer sentence contains gold"),
    ("passage_contains", "answer passage contains gold"),
    ("refused_answerable", "refused (answerable)"),
    ("no_answer_precision", "no-answer precision"), ("no_answer_recall", "no-answer recall"),
    ("latency_p50_ms", "ask latency p50 (ms)"), ("latency_p95_ms", "ask latency p95 (ms)"),
    ("search_p50_ms", "search latency p50 (ms)"),
)


def register(subparsers) -> None:
    """Add the ``eval`` subcommand to the ``hoidap`` parser."""
    p = subparsers.add_parser(
        "eval", help="measure retrieval and answers on a SQuAD JSON or JSONL question file")
    p.add_argument("file", help="SQuAD v1/v2 JSON, or JSONL lines {\"question\", \"answers\", "
                                "\"doc\"?}, or CoQA/ViCoQA JSON with --conversations")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--index", metavar="DIR", help="index to evaluate (default: the usual one)")
    src.add_argument("--build", action="store_true",
                     help="index the file's contexts (SQuAD) into a temporary index first")
    p.add_argument("--limit", type=int, metavar="N", help="only the first N questions")
    p.add_argument("--k", type=int, default=5, help="passages per answer (default 5)")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid",
                   help="retrieval mode for R@k/MRR (answers always use hybrid)")
    p.add_argument("--reader", choices=["auto", "neural", "heuristic", "ensemble"], default=None,
                   help="which reader answers (default: config, i.e. auto)")
    p.add_argument("--conversations", action="store_true",
                   help="FILE is CoQA/ViCoQA JSON: ask every turn in order with its history "
                        "(--limit counts conversations; --build indexes the stories)")
    hist = p.add_mutually_exclusive_group()
    hist.add_argument("--no-history", action="store_true",
                      help="with --conversations: ask every turn on its own")
    hist.add_argument("--compare", action="store_true",
                      help="with --conversations: run without and with history, same index")
    p.add_argument("--session", action="store_true",
                   help="with --conversations: keep the history across conversations (one "
                        "user changing topic), to check turn 1 is not pulled to the old topic")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.add_argument("--out", metavar="RESULTS.jsonl", help="write per-question results here")
    p.set_defaults(func=cmd_eval)


def _check_args(args: argparse.Namespace, config: Config) -> None:
    if args.limit is not None and args.limit < 1:
        raise InputError(f"--limit must be at least 1, got {args.limit}")
    if not 1 <= args.k <= config.max_k:
        raise InputError(f"--k must be from 1 to {config.max_k}, got {args.k}")
    if args.out and not Path(args.out).parent.is_dir():
        raise InputError(f"--out {args.out}: folder {Path(args.out).parent} does not exist")


def format_metrics(metrics: dict) -> str:
    """The metrics as an aligned two-column table."""
    rows = []
    for key, label in _LABELS:
        if key not in metrics:
            continue
        value = metrics[key]
        text = "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) \
            else str(value)
        rows.append(f"{label:<30} {text}")
    return "\n".join(rows)


def cmd_eval(args: argparse.Namespace, config: Config) -> int:
    """Handler of ``hoidap eval``."""
    from tqdm import tqdm

    from qa.evaluate import evaluate, load_eval_set, summarize

    _check_args(args, config)
    if args.reader:
        config = replace(config, reader=replace(config.reader, kind=args.reader))
    if args.conversations:
        return cmd_eval_conversations(args, config)
    if args.no_history or args.compare or args.session:
        raise InputError("--no-history, --compare and --session need --conversations")
    data = load_eval_set(Path(args.file))
    examples = data.examples[: args.limit] if args.limit else data.examples
    with ExitStack() as stack:
        engine = _eval_engine(stack, args, config, data)
        with tqdm(total=len(examples), desc="eval", unit="q", file=sys.stderr,
                  leave=False) as bar:
            results = evaluate(engine, examples, k=args.k, mode=args.mode,
                               progress=bar.update)
    metrics = summarize(results, mode=args.mode, k=args.k)
    metrics["reader"] = getattr(engine.reader, "kind", "heuristic")
    if args.out:
        _write_dicts(args.out, [r.to_dict() for r in results])
    print_json(metrics) if args.json else print(format_metrics(metrics))
    return 0


def cmd_eval_conversations(args: argparse.Namespace, config: Config) -> int:
    """``hoidap eval FILE --conversations``: story@1, rationale overlap and F1 by turn."""
    from tqdm import tqdm

    from qa.evalconv import (
        evaluate_conversations,
        format_conversation_metrics,
        load_conversations,
        summarize_conversations,
    )
    from qa.evaluate import EvalSet

    data = load_conversations(Path(args.file)).limited(args.limit)
    runs = [False, True] if args.compare else [not args.no_history]
    out: dict[str, dict] = {}
    results_all = []
    with ExitStack() as stack:
        engine = _eval_engine(stack, args, config, EvalSet((), data.paragraphs))
        turns = sum(len(c.turns) for c in data.conversations)
        for history in runs:
            with tqdm(total=turns, desc="history" if history else "no history", unit="q",
                      file=sys.stderr, leave=False) as bar:
                results = evaluate_conversations(engine, data.conversations, k=args.k,
                                                 history=history, session=args.session,
                                                 progress=bar.update)
            name = "history" if history else "no_history"
            out[name] = summarize_conversations(results) | {"history": name}
            results_all += [r.to_dict() | {"history": history} for r in results]
    if args.out:
        _write_dicts(args.out, results_all)
    if args.json:
        print_json(out if args.compare else next(iter(out.values())))
    else:
        print("\n\n".join(format_conversation_metrics(m) for m in out.values()))
    return 0


def _eval_engine(stack: ExitStack, args: argparse.Namespace, config: Config, data):
    """A warmed-up engine over ``--index``, or with ``--build`` over a temporary index of
    ``data``'s paragraphs (removed when ``stack`` closes)."""
    from qa.engine import QAEngine
    from qa.evaluate import build_eval_index

    if args.build:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="hoidap-eval-"))
        config = replace(config, index_dir=Path(tmp) / "index", engine="local")
    engine = QAEngine(config)
    if args.build:
        build_eval_index(data, config, engine.embedder, args.file, progress=progress_bar())
    return engine.warm_up()


def _write_dicts(path: str, rows: list[dict]) -> None:
    """``rows`` as JSON lines in ``--out`` (an :class:`InputError` when it cannot be written)."""
    try:
        with open(path, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InputError(f"cannot write --out {path}: {exc}") from exc
