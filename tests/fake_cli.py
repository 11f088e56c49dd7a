"""Test entry point: the real ``hoidap`` CLI, but with the fast fake embedder.

``HOIDAP_FAKE_EMBEDDER=1 python -m tests.fake_cli index build DOCS --index DIR`` behaves like
``hoidap index build`` except that vectors come from :class:`tests.fakes.HashEmbedder`, so
subprocess tests (kill-at-random-points, CLI fuzzing, the load bench's ``--fake`` mode) run in
seconds. ``HOIDAP_FAKE_WRITE_DELAY=SECONDS`` also sleeps before each fsynced file of a segment
(chunks.jsonl, segment.json), so a kill at a random moment lands inside a segment write or a
merge most of the time. Only this module honours these variables; the product CLI never does.
"""

from __future__ import annotations

import os
import sys

from hoidap.config import Config
from tests.fakes import HashEmbedder


class FakeEmbedder(HashEmbedder):
    """:class:`HashEmbedder` with the real ``Embedder(config)`` constructor and ``warm_up``."""

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()

    def warm_up(self) -> None:
        """Nothing to load."""


def install() -> None:
    """Make every ``QAEngine`` created afterwards use :class:`FakeEmbedder`."""
    import index.embedder

    index.embedder.Embedder = FakeEmbedder  # type: ignore[misc,assignment]


def slow_segment_writes(seconds: float) -> None:
    """Sleep ``seconds`` before each fsynced segment file is written (kill tests)."""
    import time

    import index.segment

    write = index.segment._fsync_write

    def slow(path, text):  # noqa: ANN001, ANN202
        time.sleep(seconds)
        write(path, text)

    index.segment._fsync_write = slow  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    """Run ``hoidap`` (fake embedder when ``HOIDAP_FAKE_EMBEDDER=1``)."""
    if os.environ.get("HOIDAP_FAKE_EMBEDDER") == "1":
        install()
    if delay := os.environ.get("HOIDAP_FAKE_WRITE_DELAY"):
        slow_segment_writes(float(delay))
    from hoidap.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
