"""The search layer: engines (local folder, Milvus) behind one protocol, one query value,
one ranking path (:func:`rank`: raw rankings fused by :func:`qa.search.fusion.fuse`) and
one write path (:func:`qa.search.write.write_documents`)."""

from qa.search.protocol import SearchEngine
from qa.search.query import MODES, Mode, Query, make_query
from qa.search.rank import rank
from qa.search.registry import ENGINES, check_engine, open_engine

__all__ = ["ENGINES", "MODES", "Mode", "Query", "SearchEngine", "check_engine", "make_query",
           "open_engine", "rank"]
