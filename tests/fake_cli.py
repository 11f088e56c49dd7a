"""Test entry point: the real ``hoidap`` CLI, but with the fast fake embedder.

``HOIDAP_FAKE_EMBEDDER=1 python -m tests.fake_cli index build DOCS --index DIR`` behaves like
``hoidap index build`` except that vectors come from :class:`tests.fakes.HashEmbedder`, so
subprocess tests (kill-at-random-points, CLI fuzzing, the load bench's ``--fake`` mode) run in
seconds. Only this module honours the variable; the product CLI never does.
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


def main(argv: list[str] | None = None) -> int:
    """Run ``hoidap`` (fake embedder when ``HOIDAP_FAKE_EMBEDDER=1``)."""
    if os.environ.get("HOIDAP_FAKE_EMBEDDER") == "1":
        install()
    from hoidap.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
