"""Reader training throughput on this machine: tokens/s for a full optimiser step.

Grid: window length x fp32/bf16 autocast x first trained layer (layers below it and the
embeddings are frozen and run without gradients). Each cell: one warm-up step, then
``--steps`` timed steps of ~``--batch-tokens`` tokens.

    .venv/bin/python bench/train_speed.py [--lengths 128 192 256] [--first 0 2 4 8]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from train_reader import Example, forward, loss_fn, pad_batch  # noqa: E402

from hoidap.config import Config  # noqa: E402
from index.modelcache import ensure_model  # noqa: E402
from qa import neural  # noqa: E402


def cell(encoder, heads, length: int, bf16: bool, first: int, batch_tokens: int,
         steps: int) -> float:
    """Tokens per second of full training steps for one configuration."""
    for i, layer in enumerate(encoder.encoder.layer):
        layer.requires_grad_(i >= first)
        layer.train(i >= first)
    params = [p for la in encoder.encoder.layer[first:] for p in la.parameters()]
    opt = torch.optim.AdamW(params + list(heads.parameters()), lr=1e-5)
    n = max(1, batch_tokens // length)
    g = torch.Generator().manual_seed(0)
    ex = [Example(tuple(torch.randint(5, 200000, (length,), generator=g).tolist()),
                  (0,) * length, 3, 5, 1.0) for _ in range(n)]
    ids, mask, match = pad_batch(ex, 1)
    times = []
    for k in range(steps + 1):
        t = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            start, end, has = forward(encoder, heads, ids, mask, match, first)
        loss = loss_fn(start.float(), end.float(), has.float(), ex)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if k:
            times.append(time.perf_counter() - t)
    return n * length / (sum(times) / len(times))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", type=int, nargs="+", default=[128, 192, 256])
    p.add_argument("--first", type=int, nargs="+", default=[0, 2, 4])
    p.add_argument("--batch-tokens", type=int, default=4096)
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    encoder = neural.load_encoder(ensure_model(Config.from_env()))
    encoder.embeddings.requires_grad_(False)
    heads = neural.make_heads(encoder.config.hidden_size)
    rows = []
    print("| window | first trained layer | fp32 tok/s | bf16 tok/s | bf16/fp32 |")
    print("|---|---|---|---|---|")
    for length in args.lengths:
        for first in args.first:
            fp32 = cell(encoder, heads, length, False, first, args.batch_tokens, args.steps)
            bf16 = cell(encoder, heads, length, True, first, args.batch_tokens, args.steps)
            rows.append({"length": length, "first": first, "fp32": fp32, "bf16": bf16})
            print(f"| {length} | {first} | {fp32:.0f} | {bf16:.0f} | {bf16 / fp32:.2f} |",
                  flush=True)
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
