"""Train hoidap's neural reader (v2) on CPU: e5-small fine-tuned end to end for span extraction.

What it does, in order:

1. Loads the Vietnamese SQuAD-style training files from ``<shared>/data/train`` (NFC + tone
   placement, answer offsets re-located) and holds out a calibration split by context (fixed
   seed) for the refusal threshold. Optionally adds a fixed-seed sample of SQuAD v1.1 (English).
2. Builds short training windows around each answer (a random window that contains it), plus
   answer-free windows of answerable contexts and windows of unanswerable questions as
   negatives; batches are grouped by length so little compute goes to padding.
3. Trains the transformer layers from ``--first-trained-layer`` up, plus the span and
   has-answer heads (embeddings and the layers below stay frozen and run without gradients),
   for one pass under a wall-time budget: the learning rate decays linearly with
   ``max(step / steps, elapsed / budget)``, so the run anneals properly even when the machine
   is slower than planned.
4. Checkpoints (safetensors + JSON, no pickle) every ``--checkpoint-minutes`` into
   ``~/.cache/hoidap/train/<run>/``; ``--resume`` continues from the last one.
5. Exports the trained layers + heads (fp16) and a manifest to ``qa/models/reader/``, then
   measures the reader: ViQuAD dev (gold paragraph), the refusal threshold on the calibration
   split, SQuAD v1.1 dev (sample), XQuAD-vi (evaluation only: never used for training, tuning
   or selection).

    .venv/bin/python scripts/train_reader.py                       # train + export + eval
    .venv/bin/python scripts/train_reader.py --resume              # after an interruption
    .venv/bin/python scripts/train_reader.py --eval-only           # re-measure shipped weights
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hoidap.config import Config, shared_dir  # noqa: E402
from index.embedder import choose_backend, cpu_flags  # noqa: E402
from index.modelcache import ensure_model  # noqa: E402
from index.text import normalize  # noqa: E402
from qa import neural  # noqa: E402
from qa.evaluate import exact_match, token_f1  # noqa: E402

VI_TRAIN = ("train/viquad_train.json", "train/uit_train_reg.json", "train/uit_train_wiki.json",
            "train/zalo2019_squad_v2.json")
VI_DEV = "train/viquad_dev.json"
SQUAD_TRAIN = "train/squad_v1.1_train.json"
SQUAD_DEV = "train/squad_v1.1_dev.json"
XQUAD = "xquad.vi.json"
PROMOTE_F1, PROMOTE_EM = 0.65, 0.50  # XQuAD-vi gold-paragraph bar for reader.kind="auto"
LICENCES = {
    "train/viquad_train.json": "UIT-ViQuAD 1.0/2.0 + VLSP 2021 MRC: research use (Nguyen et al., "
                               "COLING 2020)",
    "train/uit_train_reg.json": "MIT (namnv1113/Nanibot_ZaloAIChallenge2019_VietnameseWikiQA)",
    "train/uit_train_wiki.json": "MIT (namnv1113/Nanibot_ZaloAIChallenge2019_VietnameseWikiQA)",
    "train/zalo2019_squad_v2.json": "MIT (namnv1113/Nanibot_ZaloAIChallenge2019_VietnameseWikiQA)",
    "train/squad_v1.1_train.json": "CC BY-SA 4.0 (SQuAD v1.1)",
}


def cache_root() -> Path:
    """Where checkpoints live (outside the repository)."""
    return Path(os.environ.get("HOIDAP_CACHE", Path.home() / ".cache" / "hoidap")) / "train"


@dataclass(frozen=True)
class Item:
    """One question over one context; ``answer`` is (start, end, text) or None; ``golds`` all
    reference answers."""

    group: str
    question: str
    context: str
    answer: tuple[int, int, str] | None
    golds: tuple[str, ...] = ()


def norm(text: str) -> str:
    """What documents and questions go through in hoidap."""
    return normalize(unicodedata.normalize("NFC", text)).strip()


def locate(context: str, answer: str, hint: int) -> int | None:
    """Offset of ``answer`` in ``context`` nearest to ``hint``."""
    hits, pos = [], context.find(answer)
    while pos >= 0:
        hits.append(pos)
        pos = context.find(answer, pos + 1)
    return min(hits, key=lambda h: abs(h - hint)) if hits else None


def parse_squad(data: dict, tag: str) -> tuple[list[Item], int]:
    """Items of one SQuAD v1/v2 object and how many answers could not be re-located."""
    items, dropped = [], 0
    for ai, art in enumerate(data["data"]):
        for pi, para in enumerate(art["paragraphs"]):
            raw = unicodedata.normalize("NFC", para["context"])
            ctx = norm(para["context"])
            scale = len(ctx) / max(1, len(raw))
            for qa in para["qas"]:
                q = norm(qa["question"])
                if qa.get("is_impossible") or not qa.get("answers"):
                    items.append(Item(f"{tag}:{ai}:{pi}", q, ctx, None))
                    continue
                golds = tuple(dict.fromkeys(norm(a["text"]) for a in qa["answers"]))
                a = qa["answers"][0]
                text = norm(a["text"])
                start = locate(ctx, text, int(a["answer_start"] * scale)) if text else None
                if start is None:
                    dropped += 1
                    continue
                items.append(Item(f"{tag}:{ai}:{pi}", q, ctx, (start, start + len(text), text),
                                  golds))
    return items, dropped


def load_items(path: Path, tag: str) -> tuple[list[Item], int]:
    """:func:`parse_squad` of a file; a missing file is an error that names it."""
    if not path.is_file():
        raise SystemExit(f"training data not found: {path} (set --data or HOIDAP_SHARED)")
    return parse_squad(json.loads(path.read_text(encoding="utf-8")), tag)


def split(items: list[Item], frac: float, seed: int) -> tuple[list[Item], list[Item]]:
    """Train/held-out split by context group (no context in both)."""
    groups = sorted({it.group for it in items})
    rng = random.Random(seed)
    held = set(rng.sample(groups, max(1, int(len(groups) * frac)))) if frac > 0 else set()
    return [i for i in items if i.group not in held], [i for i in items if i.group in held]


@dataclass(frozen=True)
class Example:
    """A training window: ids, question-match levels, answer token positions (or -1), label."""

    ids: tuple[int, ...]
    match: tuple[int, ...]
    start: int
    end: int
    has: float


def answer_tokens(w: neural.Window, a: int, b: int) -> tuple[int, int] | None:
    """First/last token of the window covering char span [a, b), if fully inside."""
    idx = [i for i, o in enumerate(w.offsets) if o is not None and o[0] < b and a < o[1]]
    if not idx:
        return None
    first, last = w.offsets[idx[0]], w.offsets[idx[-1]]
    if first[0] > a or last[1] < b:  # type: ignore[index]
        return None
    return idx[0], idx[-1]


def item_examples(tok, it: Item, args, rng: random.Random) -> list[Example]:
    """A window with the answer (or, unanswerable, any window) and maybe an answer-free one."""
    wins = neural.build_windows(tok, it.question, [it.context], args.max_len, args.stride)
    if it.answer is None:
        w = rng.choice(wins)
        return [Example(w.input_ids, w.match, -1, -1, 0.0)]
    good, other = [], []
    for w in wins:
        t = answer_tokens(w, *it.answer[:2])
        (good if t else other).append((w, t))
    out = []
    if good:
        w, (s, e) = rng.choice(good)
        out.append(Example(w.input_ids, w.match, s, e, 1.0))
    if other and rng.random() < args.answer_free:
        w, _ = rng.choice(other)
        offs = [o for o in w.offsets if o is not None]
        if offs and it.answer[2] not in it.context[offs[0][0]:offs[-1][1]]:
            out.append(Example(w.input_ids, w.match, -1, -1, 0.0))
    return out


def build_examples(tok, items: list[Item], args, rng: random.Random) -> tuple[list[Example], dict]:
    """All training windows and their counts."""
    examples: list[Example] = []
    for it in items:
        examples += item_examples(tok, it, args, rng)
    counts = {"windows": len(examples),
              "positive_windows": sum(e.has > 0 for e in examples),
              "negative_windows": sum(e.has == 0 for e in examples),
              "tokens": sum(len(e.ids) for e in examples)}
    return examples, counts


def length_batches(lengths: list[int], tokens: int, rng: random.Random,
                   max_size: int = 64) -> list[list[int]]:
    """Shuffled batches of similar length holding about ``tokens`` tokens each."""
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    pool = 2000
    batches: list[list[int]] = []
    for c in range(0, len(idx), pool):
        chunk = sorted(idx[c:c + pool], key=lambda j: lengths[j])
        cur: list[int] = []
        for j in chunk:
            if cur and (len(cur) + 1) * max(lengths[cur[-1]], lengths[j]) > tokens \
                    or len(cur) >= max_size:
                batches.append(cur)
                cur = []
            cur.append(j)
        if cur:
            batches.append(cur)
    rng.shuffle(batches)
    return batches


def pad_batch(examples: list[Example], pad_id: int):
    """ids, mask, match tensors (right-padded)."""
    width = max(len(e.ids) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    match = torch.zeros((len(examples), width), dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e.ids)
        ids[i, :n] = torch.tensor(e.ids)
        mask[i, :n] = 1
        match[i, :n] = torch.tensor(e.match)
    return ids, mask, match


def forward(encoder, heads, ids, mask, match, first: int):
    """Frozen embeddings + layers below ``first`` (no gradients), then trained layers + heads."""
    layers = encoder.encoder.layer
    with torch.no_grad():
        h = neural.run_layers(layers[:first], encoder.embeddings(input_ids=ids), mask)
    return heads(neural.run_layers(layers[first:], heads.inject(h, match), mask), mask)


def loss_fn(start, end, has, ex: list[Example]) -> torch.Tensor:
    """Span cross-entropy on answerable windows + has-answer BCE on all."""
    labels = torch.tensor([e.has for e in ex])
    loss = torch.nn.functional.binary_cross_entropy_with_logits(has, labels)
    pos = [i for i, e in enumerate(ex) if e.has > 0]
    if pos:
        s = torch.tensor([ex[i].start for i in pos])
        e = torch.tensor([ex[i].end for i in pos])
        ce = torch.nn.functional.cross_entropy
        loss = loss + (ce(start[pos], s) + ce(end[pos], e)) / 2
    return loss


def lr_factor(step: int, steps: int, elapsed: float, budget: float, warm: int) -> float:
    """Linear warm-up, then linear decay by progress = max(step share, time share)."""
    progress = max(step / max(1, steps), elapsed / budget if budget > 0 else 0.0)
    return min((step + 1) / max(1, warm), 1.0) * max(0.0, 1.0 - progress)


# -- checkpoints (safetensors + JSON) --------------------------------------------------------------
def trainable(encoder, heads, first: int) -> dict[str, torch.nn.Module]:
    """The modules that train, by their export prefix."""
    mods = {neural.top_layer_prefix(i): encoder.encoder.layer[i]
            for i in range(first, encoder.config.num_hidden_layers)}
    mods["heads."] = heads
    return mods


def param_list(mods: dict[str, torch.nn.Module]) -> list[tuple[str, torch.nn.Parameter]]:
    return [(prefix + n, p) for prefix, m in mods.items() for n, p in m.named_parameters()]


def save_checkpoint(folder: Path, mods, opt, state: dict) -> None:
    """Weights, Adam moments and progress, written to a temp file then renamed."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, p in param_list(mods):
        tensors["w." + name] = p.detach().contiguous()
        st = opt.state.get(p, {})
        for k in ("exp_avg", "exp_avg_sq"):
            if k in st:
                tensors[f"{k}.{name}"] = st[k].contiguous()
        if "step" in st:
            state.setdefault("adam_step", {})[name] = float(st["step"])
    tmp = folder / "ckpt.safetensors.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, folder / "ckpt.safetensors")
    (folder / "ckpt.json.tmp").write_text(json.dumps(state), encoding="utf-8")
    os.replace(folder / "ckpt.json.tmp", folder / "ckpt.json")


def load_checkpoint(folder: Path, mods, opt) -> dict | None:
    """Restore :func:`save_checkpoint`; None when there is none."""
    from safetensors.torch import load_file

    if not (folder / "ckpt.json").is_file():
        return None
    state = json.loads((folder / "ckpt.json").read_text(encoding="utf-8"))
    tensors = load_file(str(folder / "ckpt.safetensors"))
    with torch.no_grad():
        for name, p in param_list(mods):
            p.copy_(tensors["w." + name])
            if f"exp_avg.{name}" in tensors:
                opt.state[p] = {"step": torch.tensor(state["adam_step"][name]),
                                "exp_avg": tensors[f"exp_avg.{name}"].clone(),
                                "exp_avg_sq": tensors[f"exp_avg_sq.{name}"].clone()}
    return state


def export(mods, folder: Path) -> int:
    """Write fp16 safetensors of the trained layers + heads; return bytes written."""
    from safetensors.torch import save_file

    state = {prefix + n: v.detach().half().contiguous()
             for prefix, m in mods.items() for n, v in m.state_dict().items()}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / neural.WEIGHTS_FILE
    tmp = folder / (neural.WEIGHTS_FILE + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, path)
    return path.stat().st_size


# -- training --------------------------------------------------------------------------------------
def prepare(args, tok, rng: random.Random) -> tuple[list[Example], list[Item], dict]:
    """Training windows, the calibration split and the data counts."""
    data = args.data
    items, dropped = [], {}
    for rel in VI_TRAIN:
        got, dropped[rel] = load_items(data / rel, rel)
        items += got
    train, calib = split(items, args.calib_fraction, args.seed)
    squad = 0
    if args.squad_questions:
        english, dropped[SQUAD_TRAIN] = load_items(data / SQUAD_TRAIN, SQUAD_TRAIN)
        english = [e for e in english if e.answer]
        picked = rng.sample(english, min(args.squad_questions, len(english)))
        train, squad = train + picked, len(picked)
    if args.limit:  # smoke runs and tests only
        train = rng.sample(train, min(args.limit, len(train)))
    examples, counts = build_examples(tok, train, args, rng)
    counts.update({"questions": len(items), "answers_not_relocated": dropped,
                   "train_questions": len(train), "squad_questions": squad,
                   "train_unanswerable": sum(it.answer is None for it in train),
                   "calibration_questions": len(calib),
                   "calibration_unanswerable": sum(it.answer is None for it in calib)})
    return examples, calib, counts


def run_key(args) -> str:
    """Checkpoint folder name: a hash of everything that shapes the run."""
    keep = {k: str(v) for k, v in sorted(vars(args).items())
            if k in {"seed", "first_trained_layer", "max_len", "stride", "batch_tokens", "lr",
                     "head_lr", "warmup", "calib_fraction", "squad_questions", "limit",
                     "answer_free", "bf16"}}
    return hashlib.sha256(json.dumps(keep).encode()).hexdigest()[:12]


def fit(args, encoder, heads, examples: list[Example], pad_id: int, rng: random.Random) -> dict:
    """One pass over ``examples`` under the time budget, with checkpoints; returns progress."""
    first = args.first_trained_layer
    mods = trainable(encoder, heads, first)
    for i, layer in enumerate(encoder.encoder.layer):
        layer.train(i >= first)
    heads.train()
    head_params = list(heads.parameters())
    layer_params = [p for prefix, m in mods.items() if prefix != "heads." for p in m.parameters()]
    opt = torch.optim.AdamW([{"params": layer_params, "lr": args.lr},
                             {"params": head_params, "lr": args.head_lr}], weight_decay=0.01)
    batches = length_batches([len(e.ids) for e in examples], args.batch_tokens, rng)
    folder = args.checkpoint_dir / run_key(args)
    state = {"step": 0, "elapsed": 0.0, "loss": 0.0, "tokens": 0}
    if args.resume:
        got = load_checkpoint(folder, mods, opt)
        if got:
            state = got
            print(f"resumed at step {state['step']}/{len(batches)} "
                  f"({state['elapsed'] / 60:.1f} min done)", flush=True)
    budget = args.budget_minutes * 60
    warm = max(1, int(len(batches) * args.warmup))
    t0, last_ckpt = time.time() - state["elapsed"], time.time()
    base = [g["lr"] for g in opt.param_groups]
    stop = len(batches) if args.max_steps is None else min(len(batches), args.max_steps)
    for step in range(state["step"], stop):
        torch.manual_seed(args.seed * 100_003 + step)  # dropout: the same with or without resume
        elapsed = time.time() - t0
        f = lr_factor(step, len(batches), elapsed, budget, warm)
        if f <= 0:
            print("time budget reached", flush=True)
            break
        for g, b in zip(opt.param_groups, base, strict=True):
            g["lr"] = b * f
        ex = [examples[i] for i in batches[step]]
        ids, mask, match = pad_batch(ex, pad_id)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            start, end, has = forward(encoder, heads, ids, mask, match, first)
        loss = loss_fn(start.float(), end.float(), has.float(), ex)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(layer_params + head_params, 1.0)
        opt.step()
        state["loss"] = 0.98 * state["loss"] + 0.02 * loss.item() if step else loss.item()
        state["tokens"] += int(ids.numel())
        state["step"], state["elapsed"] = step + 1, time.time() - t0
        if step % 50 == 0:
            print(f"  step {step + 1}/{len(batches)} loss {state['loss']:.3f} lr x{f:.3f} "
                  f"{state['elapsed'] / 60:.1f} min "
                  f"{state['tokens'] / max(1.0, state['elapsed']):.0f} tok/s", flush=True)
        if time.time() - last_ckpt > args.checkpoint_minutes * 60:
            save_checkpoint(folder, mods, opt, dict(state))
            last_ckpt = time.time()
            print(f"  checkpoint {folder} at step {step + 1}", flush=True)
    save_checkpoint(folder, mods, opt, dict(state))
    state["batches"] = len(batches)
    return state


def train(args) -> dict:
    """Everything up to the export; returns the manifest (without evaluation)."""
    t_start = time.time()
    rng = random.Random(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    model_dir = ensure_model(Config.from_env())
    encoder = neural.load_encoder(model_dir)
    tok = neural.load_tokenizer(model_dir)
    encoder.embeddings.requires_grad_(False)
    for layer in encoder.encoder.layer[:args.first_trained_layer]:
        layer.requires_grad_(False)
    heads = neural.make_heads(encoder.config.hidden_size)
    examples, calib, counts = prepare(args, tok, rng)
    print("data", json.dumps(counts), f"prepared in {(time.time() - t_start) / 60:.1f} min",
          flush=True)
    progress = fit(args, encoder, heads, examples, neural.special_ids(tok)[2], rng)
    size = export(trainable(encoder, heads, args.first_trained_layer), args.out)
    hyper = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
             if k not in {"out", "eval_only", "no_eval", "resume", "data", "checkpoint_dir",
                          "eval_limit", "max_steps"}}
    return {"version": 2,
            "base_model": json.loads((model_dir / "hoidap_model.json").read_text()),
            "first_trained_layer": args.first_trained_layer,
            "num_layers": encoder.config.num_hidden_layers,
            "max_len": args.infer_max_len, "stride": args.infer_stride,
            "train_max_len": args.max_len, "seed": args.seed,
            "no_answer_threshold": 0.5,
            "data": {"train_files": list(VI_TRAIN) + ([SQUAD_TRAIN] if args.squad_questions
                                                      else []),
                     "licences": LICENCES, **counts,
                     "calibration_split": f"{args.calib_fraction} of Vietnamese training "
                                          f"contexts, seed {args.seed}",
                     "model_selection": VI_DEV, "xquad": "evaluation only"},
            "hyperparameters": hyper,
            "training": {"steps": progress["step"], "batches": progress["batches"],
                         "tokens": progress["tokens"],
                         "train_minutes": round(progress["elapsed"] / 60, 2),
                         "tokens_per_s": round(progress["tokens"] / max(1, progress["elapsed"])),
                         "final_loss": round(progress["loss"], 4),
                         "wall_minutes": round((time.time() - t_start) / 60, 2)},
            "weights_bytes": size, "torch": torch.__version__, "promote": False}


# -- evaluation ------------------------------------------------------------------------------------
def gold_predictions(reader, items: list[Item]) -> list[tuple[str, float]]:
    """Top (answer text, score) of the reader on each item's own context."""
    from index.types import Document
    from qa.types import Passage

    spans = reader.predict_many([(it.question, [it.context]) for it in items])
    out = []
    for it, sp in zip(items, spans, strict=True):
        doc = Document("d", "", None, "eval", it.context, "")
        p = Passage("d:0", "d", "", None, "eval", 1, it.context, 0, len(it.context), 1.0)
        answers = reader.answers(it.question, sp, [p], {"d": doc})
        out.append((answers[0].text, answers[0].score) if answers else ("", 0.0))
    return out


def gold_metrics(items: list[Item], preds: list[tuple[str, float]]) -> dict:
    """EM/F1 (max over golds) on answerable items."""
    pairs = [(p[0], it.golds) for it, p in zip(items, preds, strict=True) if it.answer]
    return {"questions": len(pairs),
            "em": float(np.mean([exact_match(p, g) for p, g in pairs])),
            "f1": float(np.mean([token_f1(p, g) for p, g in pairs]))}


def choose_threshold(items: list[Item], preds: list[tuple[str, float]]) -> dict:
    """Refusal threshold on the calibration split: the highest one that refuses at most 10% of
    answerable questions, or the best balanced accuracy when that is higher."""
    has = np.array([it.answer is not None for it in items])
    scores = np.array([p[1] for p in preds])
    rows = []
    for t in np.round(np.arange(0.02, 0.96, 0.01), 2):
        refuse = scores < t
        ans_ref = float(refuse[has].mean()) if has.any() else 0.0
        unans_ref = float(refuse[~has].mean()) if (~has).any() else 0.0
        rows.append((float(t), ans_ref, unans_ref))
    ok = [r for r in rows if r[1] <= 0.08]  # leave room under the 10% end-to-end bound
    t, ans_ref, unans_ref = max(ok or rows[:1], key=lambda r: (r[2] - r[1], -r[0]))
    return {"threshold": t, "answerable_refused": ans_ref, "unanswerable_refused": unans_ref,
            "answerable": int(has.sum()), "unanswerable": int((~has).sum()),
            "rule": "max(unanswerable refused - answerable refused) with answerable refused "
                    "<= 8% on the calibration split"}


WINDOWS = ((192, 64), (256, 96), (320, 96), (384, 128))


def select_window(reader, dev: list[Item]) -> dict:
    """Inference window (max_len, stride) with the best F1 on the first ViQuAD dev questions;
    sets it in the reader's manifest (written out by the caller)."""
    scores = {}
    for max_len, stride in WINDOWS:
        reader.manifest["max_len"], reader.manifest["stride"] = max_len, stride
        scores[f"{max_len}/{stride}"] = gold_metrics(dev, gold_predictions(reader, dev))["f1"]
    best = max(scores, key=lambda k: scores[k])
    reader.manifest["max_len"], reader.manifest["stride"] = map(int, best.split("/"))
    return {"f1_by_window": scores, "chosen": best, "questions": len(dev)}


def evaluate(args, manifest: dict) -> dict:
    """ViQuAD dev, calibration, SQuAD dev sample and XQuAD-vi, through :class:`NeuralReader`."""
    reader = neural.NeuralReader(Config.from_env(), folder=args.out).load()
    rng = random.Random(args.seed)
    limit = args.eval_limit
    t0 = time.time()
    dev, _ = load_items(args.data / VI_DEV, VI_DEV)
    dev = dev[:limit] if limit else dev
    manifest["window_selection"] = select_window(reader, dev[:args.select_questions])
    manifest["max_len"], manifest["stride"] = reader.manifest["max_len"], \
        reader.manifest["stride"]
    print("windows", manifest["window_selection"], flush=True)
    manifest["viquad_dev_gold_paragraph"] = gold_metrics(dev, gold_predictions(reader, dev))
    print("viquad dev", manifest["viquad_dev_gold_paragraph"], flush=True)
    rows = [it for rel in VI_TRAIN for it in load_items(args.data / rel, rel)[0]]
    _, calib = split(rows, args.calib_fraction, args.seed)
    calib = calib[:limit] if limit else calib
    manifest["calibration"] = choose_threshold(calib, gold_predictions(reader, calib))
    manifest["no_answer_threshold"] = manifest["calibration"]["threshold"]
    print("calibration", manifest["calibration"], flush=True)
    sq, _ = load_items(args.data / SQUAD_DEV, SQUAD_DEV)
    sq = rng.sample(sq, min(limit or 1000, len(sq)))
    manifest["squad_v1.1_dev_sample"] = gold_metrics(sq, gold_predictions(reader, sq))
    print("squad dev", manifest["squad_v1.1_dev_sample"], flush=True)
    xq, _ = load_items(args.data / XQUAD, XQUAD)
    xq = xq[:limit] if limit else xq
    tx = time.time()
    gold = gold_metrics(xq, gold_predictions(reader, xq))
    gold["ms_per_question"] = round(1000 * (time.time() - tx) / max(1, len(xq)), 1)
    manifest["xquad_vi_gold_paragraph"] = gold
    print("xquad-vi", gold, flush=True)
    manifest["eval_minutes"] = round((time.time() - t0) / 60, 2)
    manifest["promote"] = bool(gold["f1"] >= PROMOTE_F1 and gold["em"] >= PROMOTE_EM
                               and not limit)
    return manifest


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=None,
                   help="the shared data folder (default: $HOIDAP_SHARED/data or ../shared/data)")
    p.add_argument("--out", type=Path, default=neural.MODEL_DIR)
    p.add_argument("--checkpoint-dir", type=Path, default=None)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--first-trained-layer", type=int, default=2)
    p.add_argument("--max-len", type=int, default=192, help="training window (tokens)")
    p.add_argument("--stride", type=int, default=96, help="training window overlap (tokens)")
    p.add_argument("--infer-max-len", type=int, default=320)
    p.add_argument("--infer-stride", type=int, default=96)
    p.add_argument("--batch-tokens", type=int, default=4096)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--head-lr", type=float, default=5e-4)
    p.add_argument("--warmup", type=float, default=0.05)
    p.add_argument("--answer-free", type=float, default=0.15,
                   help="chance of an extra answer-free window per answerable question")
    p.add_argument("--calib-fraction", type=float, default=0.06)
    p.add_argument("--squad-questions", type=int, default=5000,
                   help="English SQuAD v1.1 questions sampled into training (0: none)")
    p.add_argument("--budget-minutes", type=float, default=86.0,
                   help="wall-time budget the LR decays against (0: none, steps only)")
    p.add_argument("--checkpoint-minutes", type=float, default=10.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto",
                   help="bf16 autocast (auto: on CPUs with AMX/AVX512-BF16, measured 2x fp32)")
    p.add_argument("--limit", type=int, default=None, help="smoke test: N training questions")
    p.add_argument("--max-steps", type=int, default=None, help="stop after N steps (tests)")
    p.add_argument("--eval-limit", type=int, default=None, help="smoke test: N per eval set")
    p.add_argument("--select-questions", type=int, default=400,
                   help="ViQuAD dev questions that choose the inference window")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--eval-only", action="store_true")
    p.add_argument("--no-eval", action="store_true")
    args = p.parse_args(argv)
    args.data = args.data or shared_dir() / "data"
    args.bf16 = choose_backend(args.precision, cpu_flags()) == "bf16"
    args.checkpoint_dir = args.checkpoint_dir or cache_root()
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    path = args.out / neural.MANIFEST_FILE
    if args.eval_only:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    else:
        manifest = train(args)
        path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        print("trained", json.dumps(manifest["training"]), flush=True)
    if not args.no_eval:
        torch.set_num_threads(args.threads)
        manifest = evaluate(args, manifest)
        path.write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
