"""The trained reader: span decoding, windows, shipped files, engine choice, and (model) answers."""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest

from hoidap.config import Config, ReaderConfig
from hoidap.errors import ModelError
from index.types import Document
from qa import neural
from qa.types import Passage

MAX_WEIGHT_BYTES = 60 * 1024 * 1024
VOCAB = ("ở đâu ai bao nhiêu Huyện huyện Cao Lộc đạt 452 , 2 tỷ đồng năm 2020 tăng 3 5 % Xã xã "
         "Tân Liên và Xuất Lễ . ?")


# -- span decoding ---------------------------------------------------------------------------------
def test_best_spans_takes_the_best_valid_pair() -> None:
    start = np.array([9.0, 0.0, 5.0, 0.0, 0.0])
    end = np.array([9.0, 0.0, 0.0, 4.0, 6.0])
    mask = np.array([False, True, True, True, True])  # position 0 is the question
    spans = neural.best_spans(start, end, mask, max_tokens=3, top_k=3)
    assert spans[0][:2] == (2, 4)
    assert all(mask[s] and mask[e] and s <= e < s + 3 for s, e, _ in spans)
    assert spans[0][2] >= spans[1][2] >= spans[2][2]


def test_best_spans_never_ends_before_it_starts() -> None:
    start = np.array([0.0, 0.0, 8.0])
    end = np.array([0.0, 8.0, 0.0])
    spans = neural.best_spans(start, end, np.ones(3, dtype=bool), top_k=10)
    assert spans and all(s <= e for s, e, _ in spans)
    assert (2, 1) not in [(s, e) for s, e, _ in spans]


def test_best_spans_respects_max_tokens() -> None:
    start, end = np.array([5.0, 0, 0, 0, 0, 0]), np.array([0, 0, 0, 0, 0, 5.0])
    spans = neural.best_spans(start, end, np.ones(6, dtype=bool), max_tokens=3, top_k=50)
    assert all(e - s < 3 for s, e, _ in spans)


def test_log_softmax_masked_is_a_distribution_over_the_mask() -> None:
    lp = neural.log_softmax_masked(np.array([1.0, 2.0, 3.0]), np.array([True, False, True]))
    assert np.isneginf(lp[1])
    assert np.exp(lp[[0, 2]]).sum() == pytest.approx(1.0)


@pytest.mark.parametrize(("text", "expected"), [
    (" 452,2 tỷ đồng, ", "452,2 tỷ đồng"),
    ("tăng 3,5%.", "tăng 3,5%"),
    ("Hoàng Văn Nghiệm)", "Hoàng Văn Nghiệm"),
    ("(UBND huyện)", "(UBND huyện)"),
    ("(ở xã", "ở xã"),
    (", ;", ""),
])
def test_trim_span(text: str, expected: str) -> None:
    a, b = neural.trim_span(text, 0, len(text))
    assert text[a:b] == expected


@pytest.mark.parametrize(("start", "end", "expected"), [
    (1, 6, "Alec Shelbrooke"), (0, 4, "Alec"), (5, 20, "Shelbrooke"), (3, 9, "Alec Shelbrooke")])
def test_snap_to_words_never_cuts_a_word(start: int, end: int, expected: str) -> None:
    text = "Alec Shelbrooke"
    a, b = neural.snap_to_words(text, start, min(end, len(text)))
    assert text[a:b] == expected


def test_span_score_is_a_probability_that_grows_with_both_parts() -> None:
    low = neural.span_score(-3.0, np.log(0.2))
    assert 0.0 <= low <= 1.0
    assert neural.span_score(3.0, np.log(0.2)) > low
    assert neural.span_score(-3.0, np.log(0.9)) > low
    assert neural.span_score(50.0, 0.0) == pytest.approx(1.0)


def test_type_factor_prefers_figures_for_how_many() -> None:
    assert neural.type_factor("number", "452,2 tỷ đồng") == 1.0
    assert neural.type_factor("number", "huyện Cao Lộc") < 1.0
    assert neural.type_factor("person", "huyện Cao Lộc") == 1.0


def test_match_levels_mark_question_words_and_bigrams() -> None:
    text = "Năm 2020 huyện Cao Lộc đạt 19/21 chỉ tiêu và có xã Tân Liên."
    levels = neural.match_levels("Huyện Cao Lộc có bao nhiêu xã?", text)
    assert len(levels) == len(text)

    def at(word: str) -> int:
        return int(levels[text.index(word)])

    assert at("huyện") == 2 and at("Lộc") == 2  # the bigrams "huyện cao", "cao lộc"
    assert at("xã") == 1  # a question word alone
    assert at("có") == 0  # too common to count alone
    assert at("Năm") == 0 and at("2020") == 0 and at("Tân") == 0


# -- windows ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_tokenizer():
    """A word-level tokenizer with XLM-R's special tokens (no model files needed)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = VOCAB.split()
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    vocab.update({w: i + 4 for i, w in enumerate(dict.fromkeys(words))})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return tok


def test_windows_map_tokens_back_to_the_passage(tiny_tokenizer) -> None:
    texts = ["Huyện Cao Lộc đạt 452,2 tỷ đồng năm 2020.", "Xã Tân Liên ở huyện Cao Lộc."]
    windows = neural.build_windows(tiny_tokenizer, "bao nhiêu tỷ đồng ?", texts, 64, 8)
    assert [w.passage for w in windows] == [0, 1]
    for w in windows:
        spans = [o for o in w.offsets if o is not None]
        assert spans and all(texts[w.passage][a:b].strip() == texts[w.passage][a:b]
                             for a, b in spans)
        assert w.offsets[0] is None and w.offsets[1] is None  # <s> and the question
    words = [texts[0][a:b] for a, b in (o for o in windows[0].offsets if o is not None)]
    assert "452" in words and "2020" in words
    match = dict(zip(words, [m for m, o in zip(windows[0].match, windows[0].offsets,
                                               strict=True) if o is not None], strict=True))
    assert match["tỷ"] == 2 and match["452"] == 0
    assert len(windows[0].match) == len(windows[0].input_ids)


def test_long_passages_get_overlapping_windows(tiny_tokenizer) -> None:
    text = " ".join(["Huyện Cao Lộc đạt 452 tỷ đồng năm 2020 ."] * 12)
    windows = neural.build_windows(tiny_tokenizer, "bao nhiêu ?", [text], 32, 8)
    assert len(windows) > 2
    assert all(len(w.input_ids) <= 32 for w in windows)
    firsts = [next(o for o in w.offsets if o is not None)[0] for w in windows]
    lasts = [[o for o in w.offsets if o is not None][-1][1] for w in windows]
    assert firsts == sorted(firsts) and lasts[-1] == len(text) - 0
    assert all(firsts[i + 1] < lasts[i] for i in range(len(windows) - 1))  # overlap


def test_decode_windows_returns_character_spans(tiny_tokenizer) -> None:
    text = "Huyện Cao Lộc đạt 452,2 tỷ đồng năm 2020."
    (w,) = neural.build_windows(tiny_tokenizer, "bao nhiêu ?", [text], 64, 8)
    n = len(w.input_ids)
    toks = [text[o[0]:o[1]] if o else None for o in w.offsets]
    start, end = np.zeros((1, n)), np.zeros((1, n))
    start[0, toks.index("452")] = 10.0
    end[0, toks.index("đồng")] = 10.0
    spans = neural.decode_windows([w], [text], start, end, np.array([4.0]))
    _, a, b, score = spans[0]
    assert text[a:b] == "452,2 tỷ đồng" and 0.5 < score <= 1.0


def test_a_question_longer_than_half_a_window_is_cut(tiny_tokenizer) -> None:
    question = " ".join(["bao nhiêu tỷ đồng"] * 20) + " ?"
    windows = neural.build_windows(tiny_tokenizer, question, ["Huyện Cao Lộc đạt 452 tỷ đồng ."],
                                   32, 24)
    assert windows and all(len(w.input_ids) <= 32 for w in windows)
    assert all(any(o is not None for o in w.offsets) for w in windows)


@pytest.mark.parametrize(("n", "room", "stride", "expected"), [
    (10, 20, 5, [0]), (20, 20, 5, [0]), (21, 20, 5, [0, 15]), (50, 20, 5, [0, 15, 30]),
    (5, 3, 10, [0, 1, 2])])
def test_window_starts_cover_the_text(n: int, room: int, stride: int, expected) -> None:
    starts = neural.window_starts(n, room, stride)
    assert starts == expected and starts[-1] + room >= n


def test_rank_with_retrieval_orders_by_the_prior_but_keeps_scores() -> None:
    spans = [(0, 0, 5, 0.50), (3, 0, 5, 0.60), (1, 2, 9, 0.55)]
    assert [s[0] for s in neural.rank_with_retrieval(spans, 0.0)] == [3, 1, 0]
    ranked = neural.rank_with_retrieval(spans, 0.3)
    assert [s[0] for s in ranked] == [0, 1, 3]  # 0.5 > 0.55*e^-.3=0.41 > 0.6*e^-.9=0.24
    assert sorted(ranked) == sorted(spans)  # scores unchanged


# -- shipped files and engine choice ---------------------------------------------------------------
def test_shipped_weights_and_manifest() -> None:
    assert neural.weights_available(), "run `make train-reader`"
    size = sum(p.stat().st_size for p in neural.MODEL_DIR.rglob("*") if p.is_file())
    assert size <= MAX_WEIGHT_BYTES
    manifest = json.loads((neural.MODEL_DIR / neural.MANIFEST_FILE).read_text("utf-8"))
    for key in ("seed", "hyperparameters", "data", "training", "first_trained_layer", "max_len",
                "viquad_dev_gold_paragraph", "calibration", "xquad_vi_gold_paragraph",
                "squad_v1.1_dev_sample", "promote"):
        assert key in manifest, key
    assert set(manifest["data"]["train_files"]) <= set(manifest["data"]["licences"])
    assert 0.0 < manifest["no_answer_threshold"] < 1.0
    assert manifest["no_answer_threshold"] == manifest["calibration"]["threshold"]
    assert Config().reader.neural_no_answer_threshold is None  # the engine takes the manifest's


def test_promoted_follows_the_manifest(tmp_path) -> None:
    assert not neural.promoted(tmp_path)  # no weights
    (tmp_path / neural.WEIGHTS_FILE).write_bytes(b"x")
    for flag, expected in ((False, False), (True, True), ("yes", False)):
        (tmp_path / neural.MANIFEST_FILE).write_text(json.dumps({"promote": flag}), "utf-8")
        assert neural.promoted(tmp_path) is expected
    (tmp_path / neural.MANIFEST_FILE).write_text("{broken", "utf-8")
    assert neural.promoted(tmp_path) is False


def test_engine_keeps_the_heuristic_reader_with_a_fake_embedder(tmp_path) -> None:
    from qa.engine import QAEngine
    from qa.reader import HeuristicReader
    from tests.fakes import HashEmbedder

    config = Config.from_env(index_dir=tmp_path / "i")
    assert isinstance(QAEngine(config, embedder=HashEmbedder()).reader, HeuristicReader)
    bad = Config.from_env(index_dir=tmp_path / "i", reader=ReaderConfig(kind="bert"))
    with pytest.raises(ModelError, match="bert"):
        _ = QAEngine(bad, embedder=HashEmbedder()).reader


def test_engine_uses_the_active_readers_threshold(tmp_path) -> None:
    from qa.engine import QAEngine

    cfg = ReaderConfig(no_answer_threshold=0.11, neural_no_answer_threshold=0.77)
    config = Config.from_env(index_dir=tmp_path / "i", reader=cfg)
    neural_engine = QAEngine(config, reader=neural.NeuralReader(config))
    assert neural_engine.no_answer_threshold == 0.77
    plain = QAEngine(config, reader=type("R", (), {"read": lambda *a: []})())
    assert plain.no_answer_threshold == 0.11


def test_engine_builds_the_ensemble_of_both_readers(tmp_path) -> None:
    from qa.engine import QAEngine
    from qa.ensemble import EnsembleReader
    from tests.fakes import HashEmbedder

    cfg = ReaderConfig(kind="ensemble", no_answer_threshold=0.11, neural_no_answer_threshold=0.77)
    engine = QAEngine(Config.from_env(index_dir=tmp_path / "i", reader=cfg),
                      embedder=HashEmbedder())
    reader = engine.reader
    assert isinstance(reader, EnsembleReader)
    assert [(kind, threshold) for kind, _, threshold in reader.readers] == \
        [("heuristic", 0.11), ("neural", 0.77)]
    assert reader.table is engine.calibration is not None
    assert engine.no_answer_threshold == 0.0  # its readers refuse on their own thresholds


# -- the shipped model -----------------------------------------------------------------------------
PASSAGE = ("Năm 2020, tổng thu ngân sách nhà nước trên địa bàn huyện Cao Lộc ước đạt 452,2 tỷ "
           "đồng, tăng 3,5% so với cùng kỳ.\n\nĐoàn công tác do đồng chí Hoàng Văn Nghiệm, "
           "Phó Bí thư Thường trực Tỉnh ủy, làm trưởng đoàn đã làm việc với Huyện ủy Cao Lộc.")


@pytest.fixture(scope="module")
def shipped_reader():
    return neural.NeuralReader(Config.from_env()).load()


def _docs() -> tuple[list[Passage], dict[str, Document]]:
    doc = Document("d1", "Cao Lộc", "2020-10-01", "t.txt", PASSAGE, "h")
    return [Passage("d1:0", "d1", doc.title, doc.date, doc.source, 1, PASSAGE, 0, len(PASSAGE),
                    1.0)], {"d1": doc}


@pytest.mark.model
@pytest.mark.parametrize(("question", "expected", "paragraph"), [
    ("Tổng thu ngân sách nhà nước của huyện Cao Lộc năm 2020 ước đạt bao nhiêu?",
     "452,2 tỷ đồng", 1),
    (unicodedata.normalize("NFD", "Ai là trưởng đoàn công tác làm việc với Huyện ủy Cao Lộc?"),
     "Hoàng Văn Nghiệm", 2),
])
def test_shipped_reader_answers_from_a_small_passage(shipped_reader, question, expected,
                                                     paragraph) -> None:
    passages, docs = _docs()
    answers = shipped_reader.read(question, passages, docs)
    assert answers
    top = answers[0]
    assert expected in top.text and len(top.text) <= len(expected) + 25
    assert docs["d1"].text[top.citation.start:top.citation.end] == top.text
    assert top.citation.paragraph == paragraph
    assert all(0.0 <= a.score <= 1.0 for a in answers)
    assert [a.score for a in answers] == sorted((a.score for a in answers), reverse=True)


@pytest.mark.model
def test_onnx_and_torch_readers_agree(shipped_reader) -> None:
    """The ONNX Runtime network (what answers) gives torch's logits and the same answer."""
    from dataclasses import replace

    torch_reader = neural.NeuralReader(replace(Config.from_env(), query_backend="torch")).load()
    assert type(shipped_reader._parts[1]).__name__ == "OnnxReaderModel"
    assert type(torch_reader._parts[1]).__name__ == "TorchReaderModel"
    question = "Tổng thu ngân sách của huyện Cao Lộc năm 2020 ước đạt bao nhiêu?"
    tok = shipped_reader._parts[0]
    windows = neural.build_windows(tok, question, [PASSAGE], 320, 96)
    a = shipped_reader._logits(windows, 8)
    b = torch_reader._logits(windows, 8)
    for (s1, e1, h1), (s2, e2, h2) in zip(a, b, strict=True):
        assert np.allclose(s1, s2, atol=2e-3) and np.allclose(e1, e2, atol=2e-3)
        assert h1 == pytest.approx(h2, abs=2e-3)
    passages, docs = _docs()
    assert shipped_reader.read(question, passages, docs)[0].text == \
        torch_reader.read(question, passages, docs)[0].text


@pytest.mark.model
def test_answering_does_not_import_torch() -> None:
    """A question answered by the neural reader loads neither torch nor transformers (once the
    ONNX export exists, which the model tests above make)."""
    import subprocess
    import sys

    code = ("import sys; from hoidap.config import Config; from qa import neural\n"
            "from qa.neural_onnx import is_exported\n"
            "from index.modelcache import ensure_model\n"
            "c = Config.from_env(); md = ensure_model(c)\n"
            "assert is_exported(md, neural.MODEL_DIR), 'no export yet'\n"
            "r = neural.NeuralReader(c).load()\n"
            "r.predict('Ai?', ['Ông Hoàng Văn Nghiệm làm trưởng đoàn.'])\n"
            "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
            "assert not bad, bad\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)
    if "no export yet" in proc.stderr:
        neural.NeuralReader(Config.from_env()).load()  # export now (needs torch), then retry
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
