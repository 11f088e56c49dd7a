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

from hoidap.config import Config, default_corpus
from hoidap.errors import HoidapError, InputError

Handler = Callable[[argparse.Namespace, Config], int]


def _config(args: argparse.Namespace) -> Config:
    index = getattr(args, "index", None)
    return Config.from_env(index_dir=Path(index) if index else None,
                           engine=getattr(args, "engine", None),
                           milvus_uri=getattr(args, "milvus_uri", None))


def _print_json(obj: object) -> None:
    print(json.dumps(obj, ensure_ascii=False))


def _add_index_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", metavar="DIR", help="index folder (default: $HOIDAP_HOME/index)")
    p.add_argument("--engine", choices=["local", "milvus"],
                   help="search engine (default: $HOIDAP_ENGINE or local; see docs/scaling.md)")
    p.add_argument("--milvus-uri", metavar="URI",
                   help="Milvus server (http://host:19530) or milvus-lite file (*.db) "
                        "(default: $HOIDAP_MILVUS_URI or $HOIDAP_HOME/milvus/hoidap.db)")


def _add_filter_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--doc", action="append", dest="doc_ids", metavar="DOC_ID",
                   help="only search this document (repeatable)")
    p.add_argument("--date-from", metavar="YYYY-MM-DD")
    p.add_argument("--date-to", metavar="YYYY-MM-DD")
    p.add_argument("--include-undated", action="store_true",
                   help="with a date range, also search documents with no known date")


def _filters(args: argparse.Namespace):
    from qa.types import make_filters

    return make_filters(args.doc_ids or None, args.date_from, args.date_to,
                        getattr(args, "include_undated", False))


def _progress_bar():
    """A callback drawing one tqdm bar per stage on stderr."""
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="chunk", file=sys.stderr,
                                     leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


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
                           progress=_progress_bar(), dates=dates)
    if args.json:
        _print_json(report.to_dict())
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
    from index.store import current_version, read_manifest

    if config.engine != "local":
        from qa.engine import QAEngine

        docs, chunks = QAEngine(config).counts()
        info = {"engine": config.engine, "uri": config.resolved_milvus_uri,
                "collection": config.milvus_collection, "documents": docs, "chunks": chunks}
        _print_json(info) if args.json else print(
            f"{config.engine} {info['uri']} ({info['collection']}): {docs} documents, "
            f"{chunks} chunks")
        return 0
    manifest = read_manifest(config.resolved_index_dir)
    if args.json:
        _print_json({"path": str(current_version(config.resolved_index_dir)), **manifest})
    else:
        counts = manifest["counts"]
        dense = manifest.get("dense", {"kind": "flat"})
        vectors = "exact (flat)" if dense["kind"] == "flat" else \
            f"HNSW (M {dense['m']}, efSearch {dense['ef_search']})"
        print(f"index {config.resolved_index_dir}: format {manifest['format_version']}, "
              f"model {manifest['model_id']} (dim {manifest['dim']}), "
              f"{counts['documents']} documents, {counts['chunks']} chunks, "
              f"vectors {vectors}")
    return 0


# -- search / ask -----------------------------------------------------------------------------
def cmd_search(args: argparse.Namespace, config: Config) -> int:
    from qa.engine import QAEngine

    passages = QAEngine(config).search(args.query, k=args.k, filters=_filters(args),
                                       mode=args.mode)
    if args.json:
        _print_json({"query": args.query, "passages": [p.to_dict() for p in passages]})
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


def _print_result(result) -> None:
    from qa.calibration import confidence_text

    if result.undated_excluded:
        print(f"({result.undated_excluded} tài liệu không rõ ngày bị bộ lọc ngày bỏ qua; thêm "
              "--include-undated để tìm cả trong đó)")
    if result.understood:
        print(f"Hiểu câu hỏi là: {result.understood}")
    if result.vague:
        print(result.clarification)
        return
    if result.no_answer:
        print("Không tìm thấy câu trả lời trong tài liệu.")
        for i, p in enumerate(result.passages[:3], 1):
            print(f"  đoạn gần nhất [{i}] {p.title} ({p.date or 'không rõ ngày'}): {p.text[:200]}…")
        return
    best = result.answers[0]
    c = best.citation
    print(f"Trả lời: {best.text}   ({confidence_text(best.confidence, best.confidence_level)})")
    print(f"Nguồn: {c.title} ({c.date or 'không rõ ngày'}) · {c.doc_id} · đoạn {c.paragraph}"
          f" · ký tự {c.start}-{c.end}")
    a, b = c.start - best.passage_start, c.end - best.passage_start
    t = best.passage_text
    print(f"Đoạn văn: {t[:a]}[[{t[a:b]}]]{t[b:]}")


def cmd_ask(args: argparse.Namespace, config: Config) -> int:
    from qa.engine import QAEngine

    if bool(args.question) == bool(args.questions):
        raise InputError("give either a question or --questions FILE.jsonl")
    engine = QAEngine(config)
    filters = _filters(args)
    if args.question:
        result = engine.ask(args.question, k=args.k, filters=filters)
        _print_json(result.to_dict()) if args.json else _print_result(result)
        return 0
    for question, history in _read_questions(args.questions):
        try:
            result = engine.ask(question, k=args.k, filters=filters, history=history)
        except InputError as exc:
            _print_json({"question": question, "error": str(exc)}) if args.json \
                else print(f"? {question}\n  lỗi: {exc}")
            continue
        if args.json:
            _print_json(result.to_dict())
        else:
            print(f"? {question}")
            _print_result(result)
    return 0


# -- show -------------------------------------------------------------------------------------
def cmd_show(args: argparse.Namespace, config: Config) -> int:
    from qa.engine import QAEngine

    engine = QAEngine(config)
    if args.list or not args.doc_id:
        docs = engine.documents()
        if args.json:
            _print_json([{k: v for k, v in vars(d).items() if k != "text"} for d in docs])
        else:
            for d in docs:
                print(f"{d.doc_id}\t{d.date or '-'}\t{d.title}")
        return 0
    doc = engine.document(args.doc_id)
    if args.json:
        _print_json(vars(doc))
    else:
        print(f"{doc.title}\n{doc.date or 'không rõ ngày'} · {doc.source}\n\n{doc.text}")
    return 0


# -- parser -----------------------------------------------------------------------------------
def _index_parser(sub) -> None:
    p = sub.add_parser("index", help="build or inspect the index")
    isub = p.add_subparsers(dest="index_cmd", required=True)
    b = isub.add_parser("build", help="add/update documents (incremental)")
    b.add_argument("paths", nargs="*", help="files or folders (default: the seeds)")
    _add_index_option(b)
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
    i = isub.add_parser("info", help="show the index manifest")
    _add_index_option(i)
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_index_info)


def _query_parsers(sub) -> None:
    s = sub.add_parser("search", help="ranked passages for a query")
    s.add_argument("query")
    s.add_argument("--k", type=int, default=5)
    s.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    s.add_argument("--json", action="store_true")
    _add_index_option(s)
    _add_filter_options(s)
    s.set_defaults(func=cmd_search)
    a = sub.add_parser("ask", help="answer a question with a cited span")
    a.add_argument("question", nargs="?")
    a.add_argument("--questions", metavar="FILE.jsonl",
                   help="one {\"question\": …, \"history\"?: [{\"question\", \"answer\"}]} per "
                        "line (- for stdin)")
    a.add_argument("--k", type=int, default=5)
    a.add_argument("--json", action="store_true")
    _add_index_option(a)
    _add_filter_options(a)
    a.set_defaults(func=cmd_ask)
    w = sub.add_parser("show", help="a document's cleaned text and metadata")
    w.add_argument("doc_id", nargs="?")
    w.add_argument("--list", action="store_true", help="list the indexed documents")
    w.add_argument("--json", action="store_true")
    _add_index_option(w)
    w.set_defaults(func=cmd_show)


# Other modules register subcommands here: (module, function taking the subparsers object).
EXTRA_COMMANDS: list[tuple[str, str]] = [
    ("qa.evalcli", "register"),
    ("ui.serve", "register"),
    ("hoidap.repl", "register"),
]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 2 with our prefix, no usage dump
        self.exit(2, f"hoidap: error: {message} (see: hoidap --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = _Parser(prog="hoidap", description="Hỏi đáp: cited answers from Vietnamese reports")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _index_parser(sub)
    _query_parsers(sub)
    import importlib

    for module, func in EXTRA_COMMANDS:
        getattr(importlib.import_module(module), func)(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hoidap`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args, _config(args))
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
