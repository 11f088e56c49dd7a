"""``hoidap chat``: a conversation in the terminal.

Each line is a question answered with the conversation so far (a follow-up such as "Còn năm
2021 thì sao?" is read with the earlier turns), printed as ``hoidap ask`` prints it.
``/clear`` forgets the conversation, ``/quit`` (or end of input, Ctrl-D) leaves. With
``readline`` available, arrow keys edit and recall earlier lines, kept across sessions in
``$HOIDAP_HOME/chat_history``.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

from hoidap.config import Config
from hoidap.errors import InputError

BANNER = ("hoidap chat — đặt câu hỏi bằng tiếng Việt; câu hỏi tiếp theo được hiểu theo hội "
          "thoại. /clear: xoá hội thoại, /quit: thoát.")
PROMPT = "? "
QUIT = ("/quit", "/exit", "/q")
CLEAR = ("/clear", "/xoa")
HISTORY_LINES = 1000


def register(subparsers) -> None:
    """Add the ``chat`` subcommand to the ``hoidap`` parser."""
    from hoidap.cliutil import add_filter_options, add_index_options

    p = subparsers.add_parser("chat", help="a conversation in the terminal (follow-ups use "
                                           "the earlier turns)")
    p.add_argument("--k", type=int, default=5)
    add_index_options(p)
    add_filter_options(p)
    p.set_defaults(func=cmd_chat)


def _readline(home: Path) -> Callable[[], None]:
    """Turn on line editing and a persistent history when the terminal has readline; returns
    the function that saves the history."""
    if not sys.stdin.isatty():
        return lambda: None
    try:
        import readline
    except ImportError:  # Windows without pyreadline
        return lambda: None
    path = home / "chat_history"
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(HISTORY_LINES)

    def save() -> None:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)

    return save


def cmd_chat(args: argparse.Namespace, config: Config) -> int:
    """Handler of ``hoidap chat``."""
    from hoidap.cliutil import filters_from_args, print_result
    from qa.conversation import MAX_TURNS, turn_from
    from qa.engine import QAEngine

    engine = QAEngine(config)
    filters = filters_from_args(args)
    save = _readline(config.home)
    print(BANNER)
    turns: list = []
    try:
        while True:
            try:
                line = input(PROMPT).strip()
            except EOFError:
                print()
                break
            if not line:
                continue
            if line.lower() in QUIT:
                break
            if line.lower() in CLEAR:
                turns = []
                print("Đã xoá hội thoại.")
                continue
            try:
                result = engine.ask(line, k=args.k, filters=filters, history=turns)
            except InputError as exc:
                print(f"lỗi: {exc}")
                continue
            print_result(result)
            print()
            turns = [*turns, turn_from(result)][-MAX_TURNS:]
    finally:
        save()
    return 0
