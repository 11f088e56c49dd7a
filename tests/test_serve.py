"""``hoidap serve``'s start-up and options, for every engine."""

from __future__ import annotations

from qa.engine import QAEngine
from tests.fakes import HashEmbedder
from tests.test_engines import engine_config, make_corpus


def test_serve_start_up_keeps_a_filled_milvus(tmp_path):
    """A Milvus holding documents, with no local index folder, is served as it is: the start-up
    asks the configured engine, so the seeds are not ingested into it again."""
    from ui.serve import prepare_engine

    config = engine_config("milvus-lite", tmp_path)
    QAEngine(config, embedder=HashEmbedder()).update([make_corpus(tmp_path / "docs")])
    assert not config.resolved_index_dir.exists()
    emb = HashEmbedder()
    engine = prepare_engine(config, embedder=emb)
    assert [d.doc_id for d in engine.documents()] == ["a", "b", "c"]
    assert emb.calls == 0


def test_serve_takes_the_engine_options(tmp_path):
    from hoidap.cli import build_parser
    from hoidap.cliutil import config_from_args

    uri = str(tmp_path / "serve.db")
    args = build_parser().parse_args(["serve", "--engine", "milvus", "--milvus-uri", uri])
    config = config_from_args(args)
    assert (config.engine, config.resolved_milvus_uri) == ("milvus", uri)
