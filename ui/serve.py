"""``hoidap serve``'s start-up: an engine over the configured index (the seeds when there is
none), and the warning for a server open to the network. The command is ``hoidap.servecli``."""

from __future__ import annotations

import sys

from hoidap.config import Config, default_corpus
from hoidap.errors import IndexNotFoundError
from qa.engine import QAEngine


def prepare_engine(config: Config, embedder=None) -> QAEngine:
    """An engine over the configured index, building it over the seeds when the configured
    search engine has none (whatever the engine: a filled Milvus is never re-seeded)."""
    engine = QAEngine(config, embedder=embedder)
    try:
        engine.counts()  # opens the configured search engine
    except IndexNotFoundError:
        print(f"hoidap: no index in the {config.engine} engine; building it over "
              f"{default_corpus()} …", file=sys.stderr)
        engine.update([default_corpus()])
    return engine


def exposure_warning(host: str, token: str | None) -> str | None:
    """A warning when the server listens beyond this machine without an API token."""
    if token or host in ("127.0.0.1", "localhost", "::1"):
        return None
    return (f"hoidap: warning: listening on {host} without an API token: anyone who can reach "
            "this port can read and add documents; set HOIDAP_API_TOKEN")
