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


@pytest.fixture(scope="session")
def seeds_engine(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory):
    """A QAEngine over an index of the five seed articles, built once with the real model."""
    from hoidap.config import default_corpus
    from qa.engine import QAEngine

    config = Config.from_env(index_dir=tmp_path_factory.mktemp("seeds-index"))
    engine = QAEngine(config, embedder=embedder)
    engine.update([default_corpus()])
    return engine
