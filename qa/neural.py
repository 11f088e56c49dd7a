"""A trained extractive reader: multilingual-e5-small fine-tuned for span extraction.

The embeddings and bottom layers are the converted e5 model's own (loaded from
``config.model_dir``); the layers from ``first_trained_layer`` up, a start/end span head and a
has-answer head on the first token ship in ``qa/models/reader/reader.safetensors`` (fp16) with a
``manifest.json`` written by ``scripts/train_reader.py`` (data, licences, hyper-parameters,
scores, calibrated refusal threshold). Nothing loads at import; :class:`NeuralReader` loads on
first use and runs the network through ONNX Runtime (``qa/neural_onnx.py``), so answering
imports neither torch nor transformers.

Windows are ``<s> question </s></s> passage-part </s>`` with a stride over long passages. An
answer's score is ``sigmoid(has_answer) * sqrt(p_start * p_end)`` in [0, 1]; answers from the
top retrieved passages are ordered by that score times a prior on the passage's retrieval rank,
and the engine refuses when the best answer's own score is below the manifest's threshold
(calibrated on held-out Vietnamese questions, see docs/reader.md).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hoidap.config import Config
from hoidap.errors import ModelError
from index.text import normalize as nfc
from index.text import tokenize
from index.types import Document
from qa.cite import make_answer
from qa.qtype import classify
from qa.types import Answer, Passage

MODEL_DIR = Path(__file__).resolve().parent / "models" / "reader"
WEIGHTS_FILE = "reader.safetensors"
MANIFEST_FILE = "manifest.json"
MAX_ANSWER_TOKENS = 30
NUMBER_PENALTY = 0.5  # score factor for a span without a digit when a figure is asked
_EDGE_PUNCT = " \t\n\r,.;:!?-–—\"'“”‘’"
_PAIRS = {")": "(", "]": "[", "»": "«"}
_OPENERS = {v: k for k, v in _PAIRS.items()}
_COMMON = frozenset(["của", "và", "là", "các", "những", "có", "được", "trong", "với", "cho",
                     "đã", "này", "đó", "thì", "mà", "ở", "tại", "về", "từ", "một", "người"])


# -- pure helpers (shared with scripts/train_reader.py) ------------------------------------------
@dataclass(frozen=True)
class Window:
    """One model input: token ids and, per token, its character span in the passage or None."""

    passage: int
    input_ids: tuple[int, ...]
    offsets: tuple[tuple[int, int] | None, ...]
    match: tuple[int, ...] = ()  # per token: 0, 1 (word in the question), 2 (bigram too)


def match_levels(question: str, text: str) -> np.ndarray:
    """Per character of ``text``: 2 in a word bigram of the question, 1 in a question word.

    Words are lower-cased syllables/numbers (:func:`index.text.tokenize`); a few very common
    function words never match alone.
    """
    q = [t.norm for t in tokenize(question)]
    words, bigrams = set(q) - _COMMON, set(zip(q, q[1:], strict=False))
    out = np.zeros(len(text), dtype=np.int8)
    toks = tokenize(text)
    for t in toks:
        if t.norm in words:
            out[t.start:t.end] = 1
    for a, b in zip(toks, toks[1:], strict=False):
        if (a.norm, b.norm) in bigrams:
            out[a.start:a.end] = 2
            out[b.start:b.end] = 2
    return out


def special_ids(tokenizer: Any) -> tuple[int, int, int]:
    """``(<s>, </s>, <pad>)`` ids of a ``tokenizers.Tokenizer``."""
    ids = [tokenizer.token_to_id(t) for t in ("<s>", "</s>", "<pad>")]
    if None in ids:
        raise ModelError("the reader's tokenizer lacks <s>, </s> or <pad>; delete the converted "
                         "model folder so it is built again")
    return ids[0], ids[1], ids[2]


def encode_text(tokenizer: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """Token ids and character offsets of ``text`` (no special tokens)."""
    enc = tokenizer.encode(text, add_special_tokens=False)
    return list(enc.ids), [tuple(o) for o in enc.offsets]


def window_starts(n: int, room: int, stride: int) -> list[int]:
    """Start tokens of windows of ``room`` passage tokens overlapping by ``stride`` that cover
    ``n`` tokens (one window when it fits)."""
    step = max(1, room - stride)
    starts = [0]
    while starts[-1] + room < n:
        starts.append(starts[-1] + step)
    return starts


def build_windows(tokenizer: Any, question: str, texts: Sequence[str], max_len: int,
                  stride: int) -> list[Window]:
    """``<s> question </s></s> passage-part </s>`` windows (overlapping by ``stride`` passage
    tokens) for every text; ``tokenizer`` is a ``tokenizers.Tokenizer``. A question longer
    than half a window is cut to that length."""
    if not texts:
        return []
    cls, sep, _ = special_ids(tokenizer)
    q_ids, q_offs = encode_text(tokenizer, question)
    if len(q_ids) > max_len // 2:
        q_ids = q_ids[:max_len // 2]
        question = question[:q_offs[len(q_ids) - 1][1]]
    room = max(1, max_len - len(q_ids) - 4)
    stride = max(0, min(stride, room - 1))
    head = (cls, *q_ids, sep, sep)
    lead: tuple[tuple[int, int] | None, ...] = (None,) * len(head)
    windows: list[Window] = []
    for k, text in enumerate(texts):
        ids, offs = encode_text(tokenizer, text)
        levels = match_levels(question, text)
        for s in window_starts(len(ids), room, stride):
            part = [(i, o) for i, o in zip(ids[s:s + room], offs[s:s + room], strict=True)]
            p_offs = tuple(o if o[1] > o[0] else None for _, o in part)
            match = tuple(0 if o is None else int(levels[o[0]:o[1]].max()) for o in p_offs)
            windows.append(Window(k, (*head, *(i for i, _ in part), sep),
                                  (*lead, *p_offs, None), (0,) * len(head) + match + (0,)))
    return windows


def log_softmax_masked(logits: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Log-softmax over the positions where ``mask`` is true (-inf elsewhere)."""
    x = np.where(mask, logits.astype(np.float64), -np.inf)
    top = x.max() if mask.any() else 0.0
    return x - (top + math.log(np.exp(x - top).sum())) if mask.any() else x


def best_spans(start_logits: np.ndarray, end_logits: np.ndarray, mask: np.ndarray,
               max_tokens: int = MAX_ANSWER_TOKENS, top_k: int = 5
               ) -> list[tuple[int, int, float]]:
    """Top ``(start_token, end_token, log p_start + log p_end)`` with start <= end < start+max.

    Only positions where ``mask`` is true (passage tokens) can start or end a span.
    """
    ls = log_softmax_masked(start_logits, mask)
    le = log_softmax_masked(end_logits, mask)
    n = len(ls)
    pair = ls[:, None] + le[None, :]
    idx = np.arange(n)
    valid = (idx[None, :] >= idx[:, None]) & (idx[None, :] < idx[:, None] + max_tokens)
    pair = np.where(valid, pair, -np.inf)
    flat = np.argsort(-pair, axis=None)[:top_k]
    out = []
    for f in flat:
        s, e = divmod(int(f), n)
        if np.isfinite(pair[s, e]):
            out.append((s, e, float(pair[s, e])))
    return out


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Shrink ``text[start:end]`` past edge spaces/punctuation and unbalanced brackets."""
    while True:
        before = (start, end)
        while start < end and text[start] in _EDGE_PUNCT:
            start += 1
        while end > start and text[end - 1] in _EDGE_PUNCT:
            end -= 1
        if end > start and text[end - 1] in _PAIRS and _PAIRS[text[end - 1]] not in \
                text[start:end - 1]:
            end -= 1
        if end > start and text[start] in _OPENERS and _OPENERS[text[start]] not in \
                text[start + 1:end]:
            start += 1
        if (start, end) == before:
            return start, end


def snap_to_words(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen ``[start, end)`` so it neither starts nor ends inside a word."""
    while 0 < start < len(text) and text[start - 1].isalnum() and text[start].isalnum():
        start -= 1
    while 0 < end < len(text) and text[end - 1].isalnum() and text[end].isalnum():
        end += 1
    return start, end


def span_score(has_answer_logit: float, span_logprob: float) -> float:
    """``sigmoid(has_answer) * sqrt(p_start * p_end)``, in [0, 1]."""
    return float(1.0 / (1.0 + math.exp(-has_answer_logit)) * math.exp(0.5 * span_logprob))


def type_factor(question_type: str, span: str) -> float:
    """Score factor from the question type: figures asked -> spans with a digit preferred."""
    if question_type in {"number", "duration"} and not re.search(r"\d", span):
        return NUMBER_PENALTY
    return 1.0


def decode_windows(windows: Sequence[Window], texts: Sequence[str], start: np.ndarray,
                   end: np.ndarray, has: np.ndarray, top_k: int = 10
                   ) -> list[tuple[int, int, int, float]]:
    """Scored ``(text_index, char_start, char_end, score)`` spans from window logits, best first.

    ``start``/``end`` are (windows, width) logits; ``has`` the has-answer logit per window.
    """
    out: list[tuple[int, int, int, float]] = []
    for i, w in enumerate(windows):
        ctx = np.zeros(start.shape[1], dtype=bool)
        ctx[:len(w.offsets)] = [o is not None for o in w.offsets]
        for s, e, lp in best_spans(start[i], end[i], ctx, top_k=top_k):
            text = texts[w.passage]
            a, b = trim_span(text, *snap_to_words(text, w.offsets[s][0], w.offsets[e][1]))  # type: ignore[index]
            if b > a and "\n" not in text[a:b]:  # an answer never crosses a line break
                out.append((w.passage, a, b, span_score(float(has[i]), lp)))
    return sorted(out, key=lambda x: -x[3])


def rank_with_retrieval(spans: Sequence[tuple[int, int, int, float]], decay: float
                        ) -> list[tuple[int, int, int, float]]:
    """Spans ``(passage_rank, start, end, score)`` ordered by ``score * exp(-decay * rank)``:
    the reader's confidence combined with the retrieval rank of its passage. The scores
    returned are unchanged (the prior only orders)."""
    return sorted(spans, key=lambda x: -x[3] * math.exp(-decay * x[0]))


def weights_available(folder: Path = MODEL_DIR) -> bool:
    """True when the trained reader's weights and manifest are installed."""
    return (folder / WEIGHTS_FILE).is_file() and (folder / MANIFEST_FILE).is_file()


def promoted(folder: Path = MODEL_DIR) -> bool:
    """True when the installed reader passed its acceptance bar (manifest ``promote``), so
    ``reader.kind = "auto"`` may pick it over the heuristic reader."""
    if not weights_available(folder):
        return False
    try:
        return read_manifest(folder).get("promote") is True
    except ModelError:
        return False


def read_manifest(folder: Path = MODEL_DIR) -> dict:
    """The reader's manifest (hyper-parameters, data, metrics)."""
    try:
        return json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read {folder / MANIFEST_FILE}: {exc}; run `make train-reader`"
                         " or reinstall hoidap") from exc


# -- the model -------------------------------------------------------------------------------------
def make_heads(hidden: int) -> Any:
    """The span and has-answer heads (a torch module; torch is imported here, not at import)."""
    import torch

    class Heads(torch.nn.Module):
        """Start/end logits per token and a has-answer logit from the first token."""

        def __init__(self) -> None:
            super().__init__()
            self.match = torch.nn.Embedding(3, hidden)
            torch.nn.init.zeros_(self.match.weight)
            self.span = torch.nn.Linear(hidden, 2)
            self.na_dense = torch.nn.Linear(hidden, hidden)
            self.na_out = torch.nn.Linear(hidden, 1)

        def inject(self, h: torch.Tensor, match: torch.Tensor) -> torch.Tensor:
            """Add the question-match feature to the hidden states entering the top layers."""
            return h + self.match(match)

        def forward(self, h: torch.Tensor, mask: torch.Tensor):
            logits = self.span(h)
            start, end = logits[..., 0], logits[..., 1]
            neg = torch.finfo(logits.dtype).min
            start = start.masked_fill(mask == 0, neg)
            end = end.masked_fill(mask == 0, neg)
            has = self.na_out(torch.tanh(self.na_dense(h[:, 0]))).squeeze(-1)
            return start, end, has

    return Heads()


def additive_mask(mask: Any, dtype: Any) -> Any:
    """(B, L) 0/1 mask -> (B, 1, 1, L) additive attention mask."""
    import torch

    return (1.0 - mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min


def run_layers(layers: Sequence[Any], hidden: Any, mask: Any) -> Any:
    """Apply transformer layers to hidden states with a padding mask."""
    ext = additive_mask(mask, hidden.dtype)
    for layer in layers:
        out = layer(hidden, attention_mask=ext)
        hidden = out[0] if isinstance(out, tuple) else out
    return hidden


def encoder_folder(model_dir: Path) -> Path:
    """Folder holding the HF ``config.json`` of a sentence-transformers model."""
    for cand in (model_dir, model_dir / "0_Transformer"):
        if (cand / "config.json").is_file():
            return cand
    raise ModelError(f"no transformer config.json under {model_dir}; delete that folder so the "
                     "embedding model is converted again")


def load_encoder(model_dir: Path) -> Any:
    """The e5 encoder (transformers, eval mode, CPU), loaded offline."""
    from index.modelcache import offline_env

    offline_env()
    from transformers import AutoModel

    folder = encoder_folder(model_dir)
    return AutoModel.from_pretrained(str(folder), local_files_only=True).eval()


def load_tokenizer(model_dir: Path) -> Any:
    """The converted model's ``tokenizers.Tokenizer`` (what :func:`build_windows` takes)."""
    from tokenizers import Tokenizer

    path = model_dir / "tokenizer.json"
    if not path.is_file():
        raise ModelError(f"no tokenizer.json in {model_dir}; delete that folder so the "
                         "embedding model is converted again")
    return Tokenizer.from_file(str(path))


def top_layer_prefix(index: int) -> str:
    """safetensors key prefix of encoder layer ``index``."""
    return f"layers.{index}."


class NeuralReader:
    """The trained extractive reader (see the module docstring); loads lazily."""

    kind = "neural"

    def __init__(self, config: Config | None = None, folder: Path = MODEL_DIR,
                 top_n: int = 3, type_rules: bool = True, threads: int | None = None) -> None:
        self.config = config or Config.from_env()
        self.folder = folder
        self.top_n = top_n
        self.type_rules = type_rules
        self.threads = threads
        self._parts: tuple[Any, Any, dict] | None = None
        self._lock = threading.Lock()

    def load(self) -> NeuralReader:
        """Load the tokenizer and the network (ONNX Runtime, or torch as a fallback); no-op
        once done."""
        with self._lock:
            if self._parts is None:
                self._parts = self._load()
        return self

    def _load(self) -> tuple[Any, Any, dict]:
        from index.modelcache import ensure_model

        if not weights_available(self.folder):
            raise ModelError(f"no trained reader in {self.folder}; run `make train-reader`")
        manifest = read_manifest(self.folder)
        model_dir = ensure_model(self.config)
        return load_tokenizer(model_dir), self._network(model_dir, manifest), manifest

    def _network(self, model_dir: Path, manifest: dict) -> Any:
        """ONNX Runtime for ``query_backend`` auto/onnx (auto falls back to torch)."""
        from qa import neural_onnx

        wanted = self.config.query_backend
        if wanted not in ("auto", "onnx", "torch"):
            raise ModelError(f"query backend {wanted!r} is not one of auto, onnx, torch; set "
                             "HOIDAP_QUERY_BACKEND to one of them")
        if wanted != "torch":
            try:
                path = neural_onnx.ensure_reader_onnx(model_dir, self.folder, manifest)
                return neural_onnx.OnnxReaderModel(path, self.threads)
            except ModelError:
                if wanted == "onnx":
                    raise
        return neural_onnx.TorchReaderModel(model_dir, self.folder, manifest, self.threads)

    @property
    def manifest(self) -> dict:
        """The loaded manifest."""
        return self.load()._parts[2]  # type: ignore[index]

    def predict(self, question: str, texts: Sequence[str]
                ) -> list[tuple[int, int, int, float]]:
        """Scored ``(text_index, start, end, score)`` spans of ``texts``, best first."""
        return self.predict_many([(question, texts)])[0]

    def predict_many(self, pairs: Sequence[tuple[str, Sequence[str]]], batch: int = 16
                     ) -> list[list[tuple[int, int, int, float]]]:
        """:meth:`predict` for many questions, windows batched by length."""
        tok, _, manifest = self.load()._parts  # type: ignore[misc]
        per_q = [build_windows(tok, q, texts, int(manifest["max_len"]), int(manifest["stride"]))
                 for q, texts in pairs]
        flat = [w for ws in per_q for w in ws]
        logits = self._logits(flat, batch)
        out, k = [], 0
        for (_, texts), ws in zip(pairs, per_q, strict=True):
            rows = logits[k:k + len(ws)]
            k += len(ws)
            width = max((len(r[0]) for r in rows), default=0)
            start = np.full((len(ws), width), -1e9, dtype=np.float32)
            end = start.copy()
            for i, (st, en, _) in enumerate(rows):
                start[i, :len(st)], end[i, :len(en)] = st, en
            has = np.array([r[2] for r in rows], dtype=np.float32)
            out.append(decode_windows(ws, texts, start, end, has) if ws else [])
        return out

    def _logits(self, windows: Sequence[Window], batch: int
                ) -> list[tuple[np.ndarray, np.ndarray, float]]:
        """Per window: start and end logits (window length) and the has-answer logit."""
        tok, network, _ = self._parts  # type: ignore[misc]
        pad = special_ids(tok)[2]
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        out: list[tuple[np.ndarray, np.ndarray, float]] = [None] * len(windows)  # type: ignore
        for b in range(0, len(order), batch):
            idx = order[b:b + batch]
            width = max(len(windows[i].input_ids) for i in idx)
            ids = np.full((len(idx), width), pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            match = np.zeros((len(idx), width), dtype=np.int64)
            for j, i in enumerate(idx):
                n = len(windows[i].input_ids)
                ids[j, :n], mask[j, :n] = windows[i].input_ids, 1
                match[j, :n] = windows[i].match
            start, end, has = network.logits(ids, mask, match)
            for j, i in enumerate(idx):
                n = len(windows[i].input_ids)
                out[i] = (start[j, :n], end[j, :n], float(has[j]))
        return out

    def read(self, question: str, passages: Sequence[Passage],
             documents: Mapping[str, Document]) -> list[Answer]:
        """Answers best first; each is a verbatim, validated span of its document."""
        question = nfc(question).strip()
        passages = list(passages)[: self.config.reader.passages]
        if not question or not passages:
            return []
        return self.answers(question, self.predict(question, [p.text for p in passages]),
                            passages, documents)

    def answers(self, question: str, spans: Sequence[tuple[int, int, int, float]],
                passages: Sequence[Passage], documents: Mapping[str, Document]
                ) -> list[Answer]:
        """Type-rule rescoring, the retrieval-rank prior, then non-overlapping validated
        answers (at most ``top_n``), ordered by the combined score; each answer's ``score``
        is the reader's own (what the refusal threshold is calibrated on)."""
        qtype = classify(question).qtype if self.type_rules else ""
        own = [(i, a, b, s * type_factor(qtype, passages[i].text[a:b])) for i, a, b, s in spans]
        ranked = rank_with_retrieval(own, self.config.reader.neural_rank_decay)
        return self._answers(ranked, passages, documents)

    def _answers(self, spans: Sequence[tuple[int, int, int, float]],
                 passages: Sequence[Passage], documents: Mapping[str, Document]
                 ) -> list[Answer]:
        answers: list[Answer] = []
        taken: list[tuple[str, int, int]] = []
        for i, a, b, score in spans:
            p = passages[i]
            s, e = p.start + a, p.start + b
            if any(d == p.doc_id and s < te and ts < e for d, ts, te in taken):
                continue
            answer = make_answer(p, a, b, score, documents)
            if answer is not None:
                answers.append(answer)
                taken.append((p.doc_id, s, e))
            if len(answers) >= self.top_n:
                break
        return answers
