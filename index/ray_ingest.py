"""Distributed embedding with Ray Data, for ``hoidap index build --ray [ADDRESS]``.

:class:`RayPassageEncoder` is a drop-in passage encoder for the one write path
(``qa.search.write``): the texts to embed become a Ray dataset, a pool of actors each holding
one copy of the model embeds it in batches, and the vectors come back in input order. Chunking,
the embedding cache and writing to the engine (local folder or Milvus) stay in the driver, so a
Ray build gives the same index as a single-process one.

Without an address a small local Ray instance is started (2 CPUs, no dashboard); each actor
asks for ``num_cpus`` (0.5 by default) so the pool fits a 2-core machine. With an address
(``auto`` or ``ray://host:10001``) the cluster's nodes need hoidap and the model installed.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hoidap.config import EMBED_DIM, Config
from hoidap.errors import InputError, ModelError

DEFAULT_FACTORY = "index.embedder:Embedder"
LOCAL = "local"


@dataclass(frozen=True)
class RayOptions:
    """How the embedding pool is sized."""

    address: str | None = None  # None / "local": start a local instance
    num_cpus: float = 0.5  # per actor
    concurrency: int = 2  # actors in the pool
    batch_size: int = 64  # texts per batch handed to an actor
    threads: int = 1  # torch threads per actor
    local_cpus: int = 2  # CPUs of a local instance


def load_factory(spec: str) -> Callable[[Config], Any]:
    """``"module:attr"`` -> a callable taking a :class:`Config` and returning an encoder."""
    module, _, attr = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise InputError(f"encoder factory {spec!r} not found ({exc}); "
                         "give it as module:callable") from exc


class EmbedActor:
    """Holds one encoder; embeds batches ``{"i", "text"}`` -> ``{"i", "vec"}``."""

    def __init__(self, factory: str, config: Config, threads: int) -> None:
        self.encoder = load_factory(factory)(config)
        if hasattr(self.encoder, "warm_up"):
            self.encoder.warm_up()
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(max(1, threads))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        vecs = np.asarray(self.encoder.encode_passages(texts, batch_size=len(texts) or 1),
                          dtype=np.float32)
        return {"i": np.asarray(batch["i"]), "vec": vecs}


LOCAL_START_ATTEMPTS = 3


def start_ray(options: RayOptions) -> Any:
    """Connect to ``options.address`` or start a light local instance (idempotent)."""
    try:
        import ray
    except ImportError as exc:
        raise InputError("--ray needs Ray: pip install 'hoidap[scale]'") from exc
    if ray.is_initialized():
        return ray
    if options.address and options.address != LOCAL:
        ray.init(address=options.address, include_dashboard=False, log_to_driver=False)
        return ray
    root = str(Path(__file__).resolve().parent.parent)
    path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
    for attempt in range(1, LOCAL_START_ATTEMPTS + 1):
        try:
            ray.init(num_cpus=options.local_cpus, include_dashboard=False, log_to_driver=False,
                     object_store_memory=256 * 1024 * 1024,
                     runtime_env={"env_vars": {"PYTHONPATH": path,
                                               "TOKENIZERS_PARALLELISM": "false"}})
            return ray
        except Exception as exc:  # Ray gives up after 30 s when a loaded machine starts slowly
            ray.shutdown()
            if attempt == LOCAL_START_ATTEMPTS:
                raise InputError(f"a local Ray instance did not start ({exc}); retry when the "
                                 "machine is less busy, or give --ray ADDRESS") from exc
    return ray


def embed_dataset(texts: Sequence[str], config: Config, factory: str,
                  options: RayOptions,
                  progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Vectors of ``texts`` (row i = text i), embedded by a Ray Data actor pool."""
    if not texts:
        return np.zeros((0, EMBED_DIM), dtype=np.float32)
    ray = start_ray(options)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    batches = -(-len(texts) // options.batch_size)
    blocks = min(len(texts), max(options.concurrency, min(batches, 4 * options.concurrency)))
    ds = ray.data.from_items([{"i": i, "text": t} for i, t in enumerate(texts)],
                             override_num_blocks=blocks)
    out = ds.map_batches(EmbedActor, fn_constructor_kwargs={
        "factory": factory, "config": config, "threads": options.threads},
        batch_size=options.batch_size, batch_format="numpy", num_cpus=options.num_cpus,
        concurrency=options.concurrency)
    vectors = np.zeros((len(texts), EMBED_DIM), dtype=np.float32)
    done = 0
    try:
        for batch in out.iter_batches(batch_size=options.batch_size, batch_format="numpy"):
            vectors[np.asarray(batch["i"], dtype=np.int64)] = np.stack(list(batch["vec"]))
            done += len(batch["i"])
            if progress:
                progress(done, len(texts))
    except Exception as exc:  # a worker failure surfaces as a Ray error
        raise ModelError(f"Ray embedding failed ({type(exc).__name__}: {exc}); check that "
                         f"{factory} works on every Ray node") from exc
    return vectors


class RayPassageEncoder:
    """A passage encoder that embeds with Ray Data; queries are embedded locally."""

    dim = EMBED_DIM

    def __init__(self, config: Config, options: RayOptions | None = None,
                 factory: str = DEFAULT_FACTORY) -> None:
        self.config = config
        self.options = options or RayOptions()
        self.factory = factory
        self._local: Any = None

    @property
    def model_id(self) -> str:
        """The model the pool runs (so engines treat it like the real embedder)."""
        return str(getattr(load_factory(self.factory), "model_id", ""))

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None,
                        progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Embed passages on the Ray pool (``batch_size`` is the pool's, not this one)."""
        return embed_dataset(list(texts), self.config, self.factory, self.options, progress)

    def encode_queries(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed queries with a local copy of the encoder."""
        if self._local is None:
            self._local = load_factory(self.factory)(self.config)
        return self._local.encode_queries(texts)

    def shutdown(self) -> None:
        """Stop the Ray connection this process holds."""
        import ray

        if ray.is_initialized():
            ray.shutdown()
