"""Shared pytest fixtures."""

from __future__ import annotations

import pytest

from hoidap.config import Config
from index.embedder import Embedder


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real embedding model, loaded once per session.

    Uses the default home (``$HOIDAP_HOME`` or ``~/.cache/hoidap``) so the one-time
    conversion is reused across runs. Only tests marked ``model`` should use it.
    """
    emb = Embedder(Config.from_env())
    emb.warm_up()
    return emb
