"""The reader's training loop on a tiny random transformer: it learns, and a checkpoint resumes."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

import train_reader as tr  # noqa: E402

from qa import neural  # noqa: E402


def tiny_encoder():
    """A 2-layer XLM-R-shaped encoder with random weights (no model files)."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    cfg = XLMRobertaConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=64,
                           max_position_embeddings=40, pad_token_id=1)
    enc = XLMRobertaModel(cfg, add_pooling_layer=False)
    enc.embeddings.requires_grad_(False)
    return enc


def examples() -> list[tr.Example]:
    rng = random.Random(0)
    out = []
    for k in range(6):
        ids = (0, *(rng.randrange(4, 64) for _ in range(10)), 2)
        answer = (3 + k % 4, 4 + k % 4) if k < 4 else (-1, -1)
        out.append(tr.Example(ids, (0,) * len(ids), *answer, 1.0 if k < 4 else 0.0))
    return out


def args_for(tmp_path: Path, **kw) -> object:
    """Tiny-run arguments; budget 0 = no time limit, so the LR never depends on wall time."""
    args = tr.parse_args(["--data", str(tmp_path), "--checkpoint-dir", str(tmp_path / "ck"),
                          "--first-trained-layer", "0", "--batch-tokens", "50",
                          "--lr", "3e-3", "--head-lr", "1e-2", "--warmup", "0",
                          "--budget-minutes", "0", "--precision", "fp32"])
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def eval_loss(enc, heads, ex) -> float:
    enc.eval()
    heads.eval()
    ids, mask, match = tr.pad_batch(ex, 1)
    with torch.no_grad():
        start, end, has = tr.forward(enc, heads, ids, mask, match, 0)
    return float(tr.loss_fn(start, end, has, ex))


def repeated(ex: list[tr.Example], times: int) -> list[tr.Example]:
    return [e for _ in range(times) for e in ex]


def test_training_overfits_a_few_examples(tmp_path) -> None:
    enc, heads, ex = tiny_encoder(), neural.make_heads(32), examples()
    before = eval_loss(enc, heads, ex)
    tr.fit(args_for(tmp_path), enc, heads, repeated(ex, 40), 1, random.Random(1))
    after = eval_loss(enc, heads, ex)
    assert after < 0.25 * before, (before, after)


def weights(enc, heads) -> list:
    return [p.detach().clone() for p in (*enc.parameters(), *heads.parameters())]


def test_checkpoint_resumes_where_it_stopped(tmp_path) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one summation order for all three runs
    try:
        _resume_matches_uninterrupted(tmp_path)
    finally:
        torch.set_num_threads(threads)


def _resume_matches_uninterrupted(tmp_path) -> None:
    data = repeated(examples(), 6)
    enc, heads = tiny_encoder(), neural.make_heads(32)
    torch.manual_seed(5)
    heads = neural.make_heads(32)
    full = tr.fit(args_for(tmp_path / "a"), enc, heads, data, 1, random.Random(1))
    want = weights(enc, heads)

    enc2 = tiny_encoder()
    torch.manual_seed(5)
    heads2 = neural.make_heads(32)
    part = tr.fit(args_for(tmp_path / "b", max_steps=3), enc2, heads2, data, 1,
                  random.Random(1))
    assert part["step"] == 3 < full["step"]
    enc3 = tiny_encoder()  # a fresh process: weights come from the checkpoint alone
    heads3 = neural.make_heads(32)
    done = tr.fit(args_for(tmp_path / "b", resume=True), enc3, heads3, data, 1,
                  random.Random(1))
    assert done["step"] == full["step"]
    for a, b in zip(want, weights(enc3, heads3), strict=True):
        assert torch.allclose(a, b, atol=1e-6), (a - b).abs().max()


def test_lr_factor_decays_by_steps_or_time() -> None:
    assert tr.lr_factor(0, 100, 0.0, 60.0, 10) == pytest.approx(0.1)
    assert tr.lr_factor(50, 100, 0.0, 60.0, 10) == pytest.approx(0.5)
    assert tr.lr_factor(10, 100, 45.0, 60.0, 10) == pytest.approx(0.25)  # time is further
    assert tr.lr_factor(10, 100, 61.0, 60.0, 10) == 0.0


def test_length_batches_cover_everything_once_within_the_token_budget() -> None:
    lengths = [random.Random(i).randrange(5, 60) for i in range(500)]
    batches = tr.length_batches(lengths, 256, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(500))
    assert all(len(b) * max(lengths[i] for i in b) <= 256 or len(b) == 1 for b in batches)


def test_parse_squad_relocates_answers_and_keeps_unanswerables() -> None:
    data = {"data": [{"paragraphs": [{"context": "Huyện Cao Lộc đạt 452,2 tỷ đồng.", "qas": [
        {"question": "Đạt bao nhiêu?", "answers": [{"text": "452,2 tỷ đồng",
                                                   "answer_start": 3}]},
        {"question": "Ai?", "answers": [], "is_impossible": True}]}]}]}
    items, dropped = tr.parse_squad(data, "t")
    assert dropped == 0 and items[1].answer is None
    a, b, text = items[0].answer
    assert items[0].context[a:b] == text == "452,2 tỷ đồng"


def test_missing_training_data_names_the_file(tmp_path) -> None:
    with pytest.raises(SystemExit, match="viquad_train.json"):
        tr.load_items(tmp_path / "train" / "viquad_train.json", "x")
