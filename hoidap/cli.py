"""The ``hoidap`` command: a thin shell over the library.

Library errors become one-line messages and exit code 2; nothing prints a traceback
(set ``HOIDAP_DEBUG=1`` to see one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hoidap import evalcli, repl, servecli
from hoidap.cliutil import (
    add_filter_options,
    add_index_options,
    config_from_args,
    filters_from_args,
    print_json,
    print_result,
    progress_bar,
)
from hoidap.config import Config, default_corpus
from hoidap.errors import HoidapError, InputError

Handler = Callable[[argparse.Namespace, Config], int]


# -- index ------------------------------------------------------------------------------------
def _ray_encoder(address: str | None, config: Config):
    """A Ray Data passage encoder for ``--ray [ADDRESS]`` (None without the option)."""
    if not address:
        return None
    from index.ray_ingest import RayOptions, RayPassageEncoder

    return RayPassageEncoder(config, RayOptions(address=address))


def parse_dates(items: Sequence[str]) -> dict[str, str]:
    """``--date DOC_ID=YYYY-MM-DD`` options as a mapping (the date is checked by the build)."""
    dates = {}
    for item in items:
        doc_id, sep, iso = item.partition("=")
        if not sep or not doc_id.strip() or not iso.strip():
            raise InputError(f"--date {item!r}: write it as DOC_ID=YYYY-MM-DD, e.g. "
                             "--date 003_7df8df956a9623e7=2022-01-21")
        dates[doc_id.strip()] = iso.strip()
    return dates


def cmd_index_build(args: argparse.Namespace, config: Config) -> int:
    from qa.engine import QAEngine

    dates = parse_dates(args.dates)
    paths = [Path(p) for p in args.paths] or (
        [] if args.remove or dates else [default_corpus()])
    engine = QAEngine(config, embedder=_ray_encoder(args.ray, config))
    report = engine.update(paths, remove=args.remove, fresh=args.fresh,
                           progress=progress_bar(), dates=dates)
    if args.json:
        print_json(report.to_dict())
    else:
        print(f"index: {report.index_dir}")
        print(f"{report.documents} documents, {report.chunks} chunks "
              f"({len(report.added)} added, {len(report.updated)} updated, "
              f"{len(report.unchanged)} unchanged, {len(report.removed)} removed; "
              f"{report.embedded} chunks embedded) in {report.seconds:.1f}s")
        for path, reason in report.failed:
            print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


def cmd_index_info(args: argparse.Namespace, config: Config) -> int:
    from qa.search import open_engine

    engine = open_engine(config)
    print_json(engine.info()) if args.json else print(engine.summary())
    return 0


def cmd_index_optimize(args: argparse.Namespace, config: Config) -> int:
    from qa.search import open_engine

    engine = open_engine(config, create=True)
    optimize = getattr(engine, "optimize", None)
    if optimize is None:
        raise InputError(f"the {engine.name} engine merges its own segments; "
                         "hoidap index optimize is for the local index")
    groups = optimize()
    print_json({"merged": [list(g) for g in groups], **engine.info()}) if args.json else \
        print(f"merged {sum(len(g) for g in groups)} segments; {engine.summary()}")
    return 0


def cmd_index_upgrade(args: argparse.Namespace, config: Config) -> int:
    from index.upgrade import upgrade_index

    commit = upgrade_index(config.resolved_index_dir, config.vectors)
    print(f"index {config.resolved_index_dir} converted to format 2 ({len(commit.segments)} "
          "segment, nothing re-embedded)")
    return 0


# -- search / ask -----------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace, config: Config) -> int:
    from qa.engine import QAEngine

    passages = QAEngine(config).search(args.query, k=args.k, filters=filters_from_args(args),
                                       mode=args.mode)
    if args.json:
        print_json({"query": args.query, "passages": [p.to_dict() for p in passages]})
        return 0
    for i, p in enumerate(passages, 1):
        print(f"[{i}] {p.title} ({p.date or 'không rõ ngày'}) · {p.doc_id} · đoạn {p.paragraph}"
              f" · {p.start}-{p.end} · score {p.score:.3f}")
        print(f"    {p.text}\n")
    if not passages:
        print("Không tìm thấy đoạn văn nào phù hợp.")
    return 0


def _read_questions(path: str) -> list[tuple[str, list | None]]:
    """``(question, history)`` of each JSONL line ``{"question", "history"?}``."""
    from qa.conversation import parse_history

    try:
        if path == "-":
            lines = sys.stdin.read().splitlines()
        else:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read questions file {path}: {exc}") from exc
    questions = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputError(f"{path} line {n} is not JSON: {exc}") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("question"), str):
            raise InputError(f"{path} line {n} needs a \"question\" string field")
        history = obj.get("history")
        try:
            parse_history(history)
        except InputError as exc:
            raise InputError(f"{path} line {n}: {exc}") from exc
        questions.append((obj["question"], history))
    return questions


def cmd_ask(args: argparse.Namespace, config: Config) -> int:
    from qa.engine import QAEngine

    if bool(args.question) == bool(args.questions):
        raise InputError("give either a question or --questions FILE.jsonl")
    engine = QAEngine(config)
    filters = filters_from_args(args)
    if args.question:
        result = engine.ask(args.question, k=args.k, filters=filters)
        print_json(result.to_dict()) if args.json else print_result(result)
        return 0
    for question, history in _read_questions(args.questions):
        try:
            result = engine.ask(question, k=args.k, filters=filters, history=history)
        except InputError as exc:
            print_json({"question": question, "error": str(exc)}) if args.json \
                else print(f"? {question}\n  lỗi: {exc}")
            continue
        if args.json:
            print_json(result.to_dict())
        else:
            print(f"? {question}")
            print_result(result)
    return 0


# -- show -------------------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace, config: Config) -> int:
    from qa.engine import QAEngine

    engine = QAEngine(config)
    if args.list or not args.doc_id:
        docs = engine.documents()
        if args.json:
            print_json([{k: v for k, v in vars(d).items() if k != "text"} for d in docs])
        else:
            for d in docs:
                print(f"{d.doc_id}\t{d.date or '-'}\t{d.title}")
        return 0
    doc = engine.document(args.doc_id)
    if args.json:
        print_json(vars(doc))
    else:
        print(f"{doc.title}\n{doc.date or 'không rõ ngày'} · {doc.source}\n\n{doc.text}")
    return 0


# -- parser -----------------------------------------------------------------------------------
def _index_parser(sub) -> None:
    p = sub.add_parser("index", help="build or inspect the index")
    isub = p.add_subparsers(dest="index_cmd", required=True)
    b = isub.add_parser("build", help="add/update documents (incremental)")
    b.add_argument("paths", nargs="*", help="files or folders (default: the seeds)")
    add_index_options(b)
    b.add_argument("--remove", action="append", default=[], metavar="DOC_ID",
                   help="remove a document (repeatable)")
    b.add_argument("--fresh", action="store_true", help="start from an empty index")
    b.add_argument("--date", action="append", default=[], dest="dates",
                   metavar="DOC_ID=YYYY-MM-DD",
                   help="correct a document's date (repeatable; nothing is re-embedded)")
    b.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="embed with Ray Data (a local instance, or a cluster ADDRESS)")
    b.add_argument("--json", action="store_true", help="print the build report as JSON")
    b.set_defaults(func=cmd_index_build)
    i = isub.add_parser("info", help="show the index: format, counts, segments, tombstones")
    add_index_options(i)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_index_info)
    o = isub.add_parser("optimize", help="merge the index's segments into one, dropping "
                        "deleted chunks (vectors re-used)")
    add_index_options(o)
    o.add_argument("--json", action="store_true")
    o.set_defaults(func=cmd_index_optimize)
    u = isub.add_parser("upgrade", help="convert an index of format 1 to segments "
                        "(nothing re-embedded)")
    add_index_options(u)
    u.set_defaults(func=cmd_index_upgrade)


def _query_parsers(sub) -> None:
    s = sub.add_parser("search", help="ranked passages for a query")
    s.add_argument("query")
    s.add_argument("--k", type=int, default=5)
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    s.add_argument("--json", action="store_true")
    add_index_options(s)
    add_filter_options(s)
    s.set_defaults(func=cmd_search)
    a = sub.add_parser("ask", help="answer a question with a cited span")
    a.add_argument("question", nargs="?")
    a.add_argument("--questions", metavar="FILE.jsonl",
                   help="one {\"question\": …, \"history\"?: [{\"question\", \"answer\"}]} per "
                        "line (- for stdin)")
    a.add_argument("--k", type=int, default=5)
    a.add_argument("--json", action="store_true")
    add_index_options(a)
    add_filter_options(a)
    a.set_defaults(func=cmd_ask)
    w = sub.add_parser("show", help="a document's cleaned text and metadata")
    w.add_argument("doc_id", nargs="?")
    w.add_argument("--list", action="store_true", help="list the indexed documents")
    w.add_argument("--json", action="store_true")
    add_index_options(w)
    w.set_defaults(func=cmd_show)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with our prefix, no usage dump
        self.exit(2, f"hoidap: error: {message} (see: hoidap --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = _Parser(prog="hoidap", description="Hỏi đáp: cited answers from Vietnamese reports")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _index_parser(sub)
    _query_parsers(sub)
    for register in (evalcli.register, servecli.register, repl.register):
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hoidap`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args, config_from_args(args))
    except HoidapError as exc:
        print(f"hoidap: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hoidap: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # last resort: a message, never a traceback
        if os.environ.get("HOIDAP_DEBUG"):
            raise
        print(f"hoidap: internal error: {type(exc).__name__}: {exc} "
              "(set HOIDAP_DEBUG=1 for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
