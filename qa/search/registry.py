"""The search engines by name: ``config.engine`` picks one, nothing else branches on it."""

from __future__ import annotations

from collections.abc import Callable

from hoidap.config import Config
from hoidap.errors import InputError
from qa.search.protocol import SearchEngine

Opener = Callable[[Config, bool], SearchEngine]


def _open_local(config: Config, create: bool) -> SearchEngine:
    from qa.search.local import LocalEngine

    return LocalEngine.open(config, create=create)


def _open_milvus(config: Config, create: bool) -> SearchEngine:
    from qa.search.milvus.engine import MilvusEngine  # pymilvus loads only when asked for

    return MilvusEngine.open(config, create=create)


ENGINES: dict[str, Opener] = {"local": _open_local, "milvus": _open_milvus}


def check_engine(name: str) -> str:
    """``name`` if it is a known engine, else an :class:`InputError` naming the choices."""
    if name not in ENGINES:
        raise InputError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)} "
                         "(--engine or HOIDAP_ENGINE)")
    return name


def open_engine(config: Config, *, create: bool = False) -> SearchEngine:
    """The configured engine; ``create`` starts an empty one where there is none yet (else
    :class:`hoidap.errors.IndexNotFoundError`)."""
    return ENGINES[check_engine(config.engine)](config, create)
