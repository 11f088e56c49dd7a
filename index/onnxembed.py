"""A light encoder for questions and small batches: the same e5 model run by ONNX Runtime.

Answering a question needs a handful of embeddings, and importing torch + transformers +
sentence-transformers and building their model costs seconds at every process start. So the
converted model is exported once (with torch, in a temporary folder moved into place with
``os.replace``) to ``<model_dir>/onnx/model.onnx`` (fp32, same weights, kept as external data
that ONNX Runtime memory-maps: a session loads in ~0.2 s and only touched rows of the
250k-token embedding table become resident), and questions go through
ONNX Runtime with the ``tokenizers`` library on the model's own ``tokenizer.json``: mean
pooling over the attention mask, then L2 normalisation, exactly as the sentence-transformers
model does (cosine to it >= 0.9999, tests/test_embedder.py). Bulk indexing stays on torch.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hoidap.errors import ModelError

ONNX_DIR = "onnx"
ONNX_FILE = "model.onnx"
ONNX_DATA = "model.data"  # the weights, beside the graph: ONNX Runtime memory-maps them
ONNX_MARKER = "hoidap_onnx.json"
EXPORT_VERSION = 1
MAX_TOKENS = 512
PROMPTS = {"query": "query: ", "document": "passage: "}


def onnx_folder(model_dir: Path) -> Path:
    """Where the exported model of ``model_dir`` lives."""
    return model_dir / ONNX_DIR


def _marker(model_dir: Path) -> dict:
    source = json.loads((model_dir / "hoidap_model.json").read_text(encoding="utf-8"))
    return {"export_version": EXPORT_VERSION, "model": source}


def is_exported(model_dir: Path) -> bool:
    """True when ``model_dir`` holds a finished export of its current model."""
    try:
        marker = json.loads((onnx_folder(model_dir) / ONNX_MARKER).read_text(encoding="utf-8"))
        return marker == _marker(model_dir) and all(
            (onnx_folder(model_dir) / f).is_file() for f in (ONNX_FILE, ONNX_DATA))
    except (OSError, ValueError):
        return False


def _export_to(model_dir: Path, folder: Path) -> None:
    """Write ``folder/model.onnx`` + ``model.data``: input_ids, attention_mask -> hidden states."""
    import warnings

    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class Encoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            return self.model(input_ids=ids, attention_mask=mask).last_hidden_state

    ids = torch.tensor([[0, 35378, 12, 2], [0, 35378, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]])
    axes = {0: "batch", 1: "tokens"}
    raw = folder / "raw.onnx"
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about shapes it keeps dynamic anyway
        torch.onnx.export(Encoder(), (ids, mask), str(raw),
                          input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "last_hidden_state": axes},
                          opset_version=17, dynamo=False)
    save_external(raw, folder / ONNX_FILE, ONNX_DATA)


def save_external(raw: Path, dest: Path, data_name: str) -> None:
    """Re-save the exported graph ``raw`` as ``dest`` with its weights in ``data_name`` beside
    it (memory-mapped by ONNX Runtime), delete ``raw``, and make the folder readable."""
    import onnx

    onnx.save_model(onnx.load(str(raw)), str(dest), save_as_external_data=True,
                    all_tensors_to_one_file=True, location=data_name, size_threshold=1024)
    raw.unlink()
    for path in (dest, dest.parent / data_name):
        os.chmod(path, 0o644)
    os.chmod(dest.parent, 0o755)  # mkdtemp makes it private; the final folder need not be


def ensure_onnx(model_dir: Path) -> Path:
    """Export the model in ``model_dir`` to ONNX once; return the ``.onnx`` file."""
    from index.modelcache import install_folder

    dest = onnx_folder(model_dir)
    if is_exported(model_dir):
        return dest / ONNX_FILE
    staging = Path(tempfile.mkdtemp(prefix=".onnx.tmp-", dir=model_dir))
    try:
        _export_to(model_dir, staging)
        (staging / ONNX_MARKER).write_text(json.dumps(_marker(model_dir)), encoding="utf-8")
        install_folder(staging, dest, lambda _: is_exported(model_dir))
    except Exception as exc:
        raise ModelError(f"exporting {model_dir} to ONNX failed: {exc}; check free disk "
                         f"space, or set HOIDAP_QUERY_BACKEND=torch") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dest / ONNX_FILE


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Unit-length mean of the hidden states over the tokens where ``mask`` is 1."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    return summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-12)


class OnnxEncoder:
    """Questions and passages through ONNX Runtime (see the module docstring)."""

    def __init__(self, model_dir: Path, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        path = ensure_onnx(model_dir)
        self.tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        pad = self.tokenizer.token_to_id("<pad>")
        self.tokenizer.enable_padding(pad_id=1 if pad is None else pad, pad_token="<pad>")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        options.log_severity_level = 3
        self.session: Any = ort.InferenceSession(str(path), options,
                                                 providers=["CPUExecutionProvider"])

    def encode(self, texts: list[str], kind: str) -> np.ndarray:
        """Unit float32 embeddings of ``texts`` (``kind``: ``query`` or ``document``)."""
        batch = self.tokenizer.encode_batch([PROMPTS[kind] + t for t in texts])
        ids = np.array([e.ids for e in batch], dtype=np.int64)
        mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
        (hidden,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
        return mean_pool(hidden, mask)
