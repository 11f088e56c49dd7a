"""Ray Data ingestion gives the same index as a single-process build (local Ray instance)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hoidap.config import Config, LimitsConfig, default_corpus
from index.store import load_index
from qa.search.write import build_index
from tests.fakes import HashEmbedder

pytest.importorskip("ray")
pytestmark = pytest.mark.slow

FACTORY = "tests.test_ray_ingest:hash_encoder"


def hash_encoder(config: Config) -> HashEmbedder:
    """The factory Ray actors call (module:callable taking a Config)."""
    return HashEmbedder()


@pytest.fixture(scope="module")
def ray_encoder():
    from index.ray_ingest import RayOptions, RayPassageEncoder

    enc = RayPassageEncoder(Config(), RayOptions(batch_size=8, concurrency=2), FACTORY)
    yield enc
    enc.shutdown()


def config_for(tmp: Path) -> Config:
    return Config(home=tmp / "home", index_dir=tmp / "idx",
                  limits=LimitsConfig(parse_timeout_s=0))


def test_ray_build_equals_single_process(ray_encoder, tmp_path):
    single = build_index([default_corpus()], config_for(tmp_path / "one"), HashEmbedder())
    distributed = build_index([default_corpus()], config_for(tmp_path / "ray"), ray_encoder)
    assert distributed.embedded == single.embedded > 8  # several Ray batches
    a, b = load_index(tmp_path / "one" / "idx"), load_index(tmp_path / "ray" / "idx")
    assert [c.chunk_id for c in a.chunks] == [c.chunk_id for c in b.chunks]
    np.testing.assert_allclose(a.vectors(), b.vectors(), atol=1e-6)


def test_ray_build_into_milvus(ray_encoder, tmp_path):
    pytest.importorskip("pymilvus")
    from qa.engine import QAEngine

    cfg = replace(config_for(tmp_path), engine="milvus",
                  milvus_uri=str(tmp_path / "m.db"))
    engine = QAEngine(cfg, embedder=ray_encoder)
    report = engine.update([default_corpus()])
    assert report.embedded == report.chunks > 0
    backend = engine._retrieval()
    texts = [_embed_texts(engine)[0]]
    vec = HashEmbedder().encode_passages(texts)[0]
    from index.segment import text_hash

    assert np.allclose(backend.cached_vectors([text_hash(texts[0])[:32]])
                       [text_hash(texts[0])[:32]], vec, atol=1e-6)


def _embed_texts(engine) -> list[str]:
    from index.build import chunk_all

    docs = engine.documents()
    return chunk_all(docs[:1], engine.config)[1]
