"""The trained reader's network, run by torch (training, export, fallback) or ONNX Runtime.

Both runtimes expose one call, ``logits(ids, mask, match) -> (start, end, has)`` on numpy
arrays. The ONNX graph (base e5 layers with the trained layers and heads swapped in) is
exported once, with torch, next to the converted embedding model, in a temporary folder moved
into place with ``os.replace``; a marker records the digest of the shipped weights so new
weights are exported again. Answering then needs neither torch nor transformers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from hoidap.errors import ModelError

ONNX_DIR = "reader-onnx"
ONNX_FILE = "reader.onnx"
ONNX_DATA = "reader.data"
MARKER = "hoidap_reader_onnx.json"
EXPORT_VERSION = 1


def weights_digest(folder: Path) -> str:
    """sha256 of the shipped weights (with the manifest's ``first_trained_layer``, the only
    other thing the network depends on; the scores in the manifest do not matter)."""
    from qa.neural import WEIGHTS_FILE, read_manifest

    h = hashlib.sha256(str(read_manifest(folder)["first_trained_layer"]).encode())
    with open(folder / WEIGHTS_FILE, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _marker(model_dir: Path, folder: Path) -> dict:
    base = json.loads((model_dir / "hoidap_model.json").read_text(encoding="utf-8"))
    return {"export_version": EXPORT_VERSION, "model": base, "weights": weights_digest(folder)}


def is_exported(model_dir: Path, folder: Path) -> bool:
    """True when ``model_dir`` holds an export of the reader weights in ``folder``."""
    dest = model_dir / ONNX_DIR
    try:
        marker = json.loads((dest / MARKER).read_text(encoding="utf-8"))
        return marker == _marker(model_dir, folder) and all(
            (dest / f).is_file() for f in (ONNX_FILE, ONNX_DATA))
    except (OSError, ValueError):
        return False


class TorchReaderModel:
    """The reader network in torch: base encoder, trained top layers, heads."""

    def __init__(self, model_dir: Path, folder: Path, manifest: dict,
                 threads: int | None = None) -> None:
        import torch
        from safetensors.torch import load_file

        from qa.neural import WEIGHTS_FILE, load_encoder, make_heads, top_layer_prefix

        torch.set_num_threads(threads or max(1, os.cpu_count() or 1))
        self.encoder = load_encoder(model_dir)
        state = load_file(str(folder / WEIGHTS_FILE))
        self.first = int(manifest["first_trained_layer"])
        for i in range(self.first, self.encoder.config.num_hidden_layers):
            prefix = top_layer_prefix(i)
            sub = {k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)}
            self.encoder.encoder.layer[i].load_state_dict(sub, strict=True)
        self.heads = make_heads(self.encoder.config.hidden_size)
        self.heads.load_state_dict({k[6:]: v.float() for k, v in state.items()
                                    if k.startswith("heads.")}, strict=True)
        self.heads.eval()

    def forward(self, ids: Any, mask: Any, match: Any) -> tuple[Any, Any, Any]:
        """Torch tensors in and out (used by the ONNX export too)."""
        from qa.neural import run_layers

        layers = self.encoder.encoder.layer
        hidden = run_layers(layers[:self.first], self.encoder.embeddings(input_ids=ids), mask)
        hidden = run_layers(layers[self.first:], self.heads.inject(hidden, match), mask)
        return self.heads(hidden, mask)

    def logits(self, ids: np.ndarray, mask: np.ndarray, match: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Start/end logits (batch, tokens) and has-answer logits (batch,)."""
        import torch

        with torch.inference_mode():
            out = self.forward(torch.from_numpy(ids), torch.from_numpy(mask),
                               torch.from_numpy(match))
        return tuple(t.float().numpy() for t in out)  # type: ignore[return-value]


def _export_to(model_dir: Path, folder: Path, manifest: dict, staging: Path) -> None:
    import warnings

    import torch

    from index.onnxembed import save_external

    model = TorchReaderModel(model_dir, folder, manifest)

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.heads = model.encoder, model.heads

        def forward(self, ids, mask, match):
            return model.forward(ids, mask, match)

    ids = torch.tensor([[0, 35378, 2, 2, 12, 2], [0, 35378, 2, 2, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0]])
    match = torch.zeros_like(ids)
    axes = {0: "batch", 1: "tokens"}
    raw = staging / "raw.onnx"
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Wrapped().eval(), (ids, mask, match), str(raw),
                          input_names=["input_ids", "attention_mask", "match"],
                          output_names=["start", "end", "has"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "match": axes, "start": axes, "end": axes,
                                        "has": {0: "batch"}},
                          opset_version=17, dynamo=False)
    save_external(raw, staging / ONNX_FILE, ONNX_DATA)
    (staging / MARKER).write_text(json.dumps(_marker(model_dir, folder)), encoding="utf-8")
    os.chmod(staging / MARKER, 0o644)


def ensure_reader_onnx(model_dir: Path, folder: Path, manifest: dict) -> Path:
    """Export the reader in ``folder`` once; return the ``.onnx`` file."""
    from index.modelcache import install_folder

    dest = model_dir / ONNX_DIR
    if not is_exported(model_dir, folder):
        staging = Path(tempfile.mkdtemp(prefix=".reader-onnx.tmp-", dir=model_dir))
        try:
            _export_to(model_dir, folder, manifest, staging)
            install_folder(staging, dest, lambda _: is_exported(model_dir, folder))
        except Exception as exc:
            raise ModelError(f"exporting the reader to ONNX failed: {exc}; check free disk "
                             "space, or set HOIDAP_QUERY_BACKEND=torch") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return dest / ONNX_FILE


class OnnxReaderModel:
    """The exported reader in ONNX Runtime (same call as :class:`TorchReaderModel`)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
        options.log_severity_level = 3
        self.session: Any = ort.InferenceSession(str(path), options,
                                                 providers=["CPUExecutionProvider"])

    def logits(self, ids: np.ndarray, mask: np.ndarray, match: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Start/end logits (batch, tokens) and has-answer logits (batch,)."""
        start, end, has = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "match": match})
        return start, end, has
