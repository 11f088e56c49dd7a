"""Helpers shared by the ``hoidap`` subcommands (options, printing, progress): CLI code only;
the library (``index``, ``qa``, ``ui``) never imports it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hoidap.config import Config


def config_from_args(args: argparse.Namespace) -> Config:
    """The configuration the command line and the environment ask for."""
    index = getattr(args, "index", None)
    return Config.from_env(index_dir=Path(index) if index else None,
                           engine=getattr(args, "engine", None),
                           milvus_uri=getattr(args, "milvus_uri", None))


def print_json(obj: object) -> None:
    """One JSON line on stdout (UTF-8 text as is)."""
    print(json.dumps(obj, ensure_ascii=False))


def add_index_options(p: argparse.ArgumentParser) -> None:
    """``--index``, ``--engine`` and ``--milvus-uri``: where the index is."""
    p.add_argument("--index", metavar="DIR", help="index folder (default: $HOIDAP_HOME/index)")
    from qa.search import ENGINES

    p.add_argument("--engine", choices=list(ENGINES),
                   help="search engine (default: $HOIDAP_ENGINE or local; see docs/scaling.md)")
    p.add_argument("--milvus-uri", metavar="URI",
                   help="Milvus server (http://host:19530) or milvus-lite file (*.db) "
                        "(default: $HOIDAP_MILVUS_URI or $HOIDAP_HOME/milvus/hoidap.db)")


def add_filter_options(p: argparse.ArgumentParser) -> None:
    """``--doc``, ``--date-from``, ``--date-to`` and ``--include-undated``."""
    p.add_argument("--doc", action="append", dest="doc_ids", metavar="DOC_ID",
                   help="only search this document (repeatable)")
    p.add_argument("--date-from", metavar="YYYY-MM-DD")
    p.add_argument("--date-to", metavar="YYYY-MM-DD")
    p.add_argument("--include-undated", action="store_true",
                   help="with a date range, also search documents with no known date")


def filters_from_args(args: argparse.Namespace):
    """The :class:`qa.types.Filters` the filter options ask for (None: none)."""
    from qa.types import make_filters

    return make_filters(args.doc_ids or None, args.date_from, args.date_to,
                        getattr(args, "include_undated", False))


def progress_bar():
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


def print_result(result) -> None:
    """A :class:`qa.types.QAResult` for people, in Vietnamese."""
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
