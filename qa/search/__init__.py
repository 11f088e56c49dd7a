"""The search layer: engines (local folder, Milvus) behind one protocol, one query value,
one ranking path (:func:`rank`: raw rankings fused by :func:`qa.search.fusion.fuse`) and
one write path (:func:`qa.search.write.write_documents`). ``ENGINES`` maps
``config.engine`` to its engine; nothing else branches on the name."""

from __future__ import annotations

from collections.abc import Callable

from hoidap.config import Config
from hoidap.errors import InputError
from qa.search.protocol import Query, SearchEngine
from qa.search.query import MODES, Mode, make_query, rank

__all__ = ["ENGINES", "MODES", "Mode", "Query", "SearchEngine", "check_engine", "make_query",
           "open_engine", "rank"]

Opener = Callable[[Config, bool, bool], SearchEngine]  # (config, create, fresh)


def _open_local(config: Config, create: bool, fresh: bool) -> SearchEngine:
    from qa.search.local import LocalEngine

    if fresh:
        return LocalEngine(None, config).writer(fresh=True)
    return LocalEngine.open(config, create=create, full=not create)  # a writer reads lazily


def _open_milvus(config: Config, create: bool, fresh: bool) -> SearchEngine:
    from qa.search.milvus.engine import MilvusEngine  # pymilvus loads only when asked for

    return MilvusEngine.open(config, create=create)


ENGINES: dict[str, Opener] = {"local": _open_local, "milvus": _open_milvus}


def check_engine(name: str) -> str:
    """``name`` if it is a known engine, else an :class:`InputError` naming the choices."""
    if name not in ENGINES:
        raise InputError(f"unknown engine {name!r}; use one of: {', '.join(ENGINES)} "
                         "(--engine or HOIDAP_ENGINE)")
    return name


def open_engine(config: Config, *, create: bool = False, fresh: bool = False) -> SearchEngine:
    """The configured engine; ``create`` starts an empty one where there is none yet (else
    :class:`hoidap.errors.IndexNotFoundError`); ``fresh``: to be cleared and written anew
    (the local engine does not load the version it will replace)."""
    return ENGINES[check_engine(config.engine)](config, create or fresh, fresh)
