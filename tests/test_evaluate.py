"""Evaluation: metric functions, data-set loaders, the runner and ``hoidap eval`` (no model)."""

from __future__ import annotations

import json
import math
import unicodedata
from pathlib import Path

import pytest

from hoidap.cli import main
from hoidap.config import Config
from hoidap.errors import InputError
from qa.evaluate import (
    Example,
    QuestionResult,
    build_eval_index,
    contains_answer,
    evaluate,
    exact_match,
    first_relevant_rank,
    load_eval_set,
    mrr_at,
    normalize_answer,
    percentile,
    precision_recall,
    recall_at,
    summarize,
    token_f1,
)
from tests.fakes import HashEmbedder


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# -- metrics ----------------------------------------------------------------------------------
def test_normalize_answer_nfd_case_punctuation_and_tone_placement() -> None:
    assert normalize_answer(nfd("  Tỷ lệ  HỘ nghèo: 1,29%. ")) == "tỷ lệ hộ nghèo 129"
    assert normalize_answer("Tỉnh uỷ") == normalize_answer("Tỉnh ủy")
    assert normalize_answer("Đảng bộ “Cao Lộc”!") == "đảng bộ cao lộc"
    assert normalize_answer("hòa") != normalize_answer("hoa")  # diacritics are kept


def test_exact_match_takes_best_gold_and_ignores_form() -> None:
    golds = ["Xuất Lễ và Tân Liên", "Tân Liên, Xuất Lễ"]
    assert exact_match(nfd("tân liên, xuất lễ."), golds) == 1.0
    assert exact_match("Xuất Lễ", golds) == 0.0
    assert exact_match("3,5%", ["3,5 %"]) == 1.0
    assert exact_match("", ["185"]) == 0.0


def test_token_f1_partial_overlap_counts_syllables() -> None:
    # "19/21 chỉ tiêu nhiệm vụ": 5 tokens, 1 shared with the 1-token gold -> P=1/5, R=1.
    assert token_f1("19/21 chỉ tiêu nhiệm vụ", ["19/21"]) == pytest.approx(1 / 3)
    # One-letter word "ở" is a token: P=2/3, R=1.
    assert token_f1("ở Hà Nội", ["Hà Nội"]) == pytest.approx(0.8)
    assert token_f1(nfd("Hà Nội"), ["TP Hồ Chí Minh", "hà nội"]) == 1.0
    assert token_f1("Ba Chẽ", ["Cao Lộc"]) == 0.0
    assert token_f1("", ["Cao Lộc"]) == 0.0
    assert token_f1("Cao Lộc", []) == 0.0


def test_contains_answer_matches_whole_tokens_only() -> None:
    text = "Tổng số đảng viên là 2033; tỷ lệ hộ nghèo còn 1,29%."
    assert contains_answer(text, ["1,29%"])
    assert contains_answer(nfd(text), ["2033"])
    assert not contains_answer(text, ["2"])
    assert not contains_answer(text, ["đảng viên mới"])
    assert not contains_answer(text, [])


def test_first_relevant_rank_requires_gold_doc_when_given() -> None:
    passages = [("a", "không có gì"), ("b", "đạt 452,2 tỷ đồng"), ("c", "ước đạt 452,2 tỷ đồng")]
    assert first_relevant_rank(passages, ["452,2 tỷ đồng"]) == 2
    assert first_relevant_rank(passages, ["452,2 tỷ đồng"], doc="c") == 3
    assert first_relevant_rank(passages, ["452,2 tỷ đồng"], doc="a") is None
    assert first_relevant_rank(passages, ["19/21"]) is None


def test_recall_and_mrr() -> None:
    ranks = [1, 3, None, 12]
    assert recall_at(ranks, 1) == 0.25
    assert recall_at(ranks, 5) == 0.5
    assert mrr_at(ranks, 10) == pytest.approx((1 + 1 / 3) / 4)
    assert recall_at([], 5) == 0.0


def test_percentile_interpolates() -> None:
    assert percentile([40.0, 10.0, 30.0, 20.0], 50) == 25.0
    assert percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert percentile([7.0], 99) == 7.0
    assert percentile([3.0, 1.0], 0) == 1.0 and percentile([3.0, 1.0], 100) == 3.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_precision_recall() -> None:
    assert precision_recall([True, True, False, False], [True, False, True, False]) == (0.5, 0.5)
    p, r = precision_recall([False, False], [True, False])
    assert math.isnan(p) and r == 0.0


def _result(golds: tuple[str, ...], predicted: str, no_answer: bool, rank: int | None,
            latency: float) -> QuestionResult:
    ex = Example("q", "câu hỏi?", golds)
    return QuestionResult(ex, rank, 1.0, predicted, no_answer, predicted, 0.9, latency)


def test_summarize_answer_and_no_answer_metrics() -> None:
    results = [
        _result(("185",), "185", False, 1, 10.0),
        _result(("12 đảng viên",), "12", False, 4, 20.0),
        _result(("1,29%",), "", True, None, 30.0),  # wrongly refused
        _result((), "", True, None, 40.0),  # rightly refused
        _result((), "Cao Lộc", False, None, 50.0),  # should have refused
    ]
    m = summarize(results)
    assert (m["questions"], m["answerable"], m["unanswerable"]) == (5, 3, 2)
    assert m["recall@1"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["recall@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["em"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["f1"] == pytest.approx((1 + 0.5) / 3, abs=1e-4)  # "12": P=1, R=1/3
    assert m["refused_answerable"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["no_answer_precision"] == 0.5 and m["no_answer_recall"] == 0.5
    assert m["latency_p50_ms"] == 30.0


def test_summarize_without_reading_has_no_answer_keys() -> None:
    ex = Example("q", "câu hỏi?", ("185",))
    m = summarize([QuestionResult(ex, 2, 3.0)], mode="bm25")
    assert m["recall@1"] == 0.0 and m["recall@5"] == 1.0 and m["mrr@10"] == 0.5
    assert "em" not in m and m["mode"] == "bm25"


# -- loaders ----------------------------------------------------------------------------------
CONTEXT_1 = ("Theo báo cáo của Ủy ban nhân dân huyện Ba Chẽ, đến cuối năm 2020 tỷ lệ hộ nghèo "
             "của huyện còn 1,29%. Tổng số đảng viên toàn đảng bộ huyện là 2033 đồng chí, "
             "sinh hoạt ở 52 chi bộ.")
CONTEXT_2 = ("Năm 2021, huyện Cao Lộc kết nạp được 185 đảng viên mới. Huyện ủy đã thi hành kỷ "
             "luật 12 đảng viên vi phạm và chi 11.400 triệu đồng cho công tác phòng, chống dịch.")


def squad_obj(v2: bool = False) -> dict:
    qas_2 = [{"id": "q3", "question": nfd("Năm 2021 huyện Cao Lộc kết nạp bao nhiêu đảng viên "
                                        "mới?"), "answers": [{"text": "185", "answer_start": 40}]}]
    if v2:
        qas_2.append({"id": "q4", "question": "Dân số huyện Cao Lộc là bao nhiêu người?",
                      "answers": [], "plausible_answers": [{"text": "185", "answer_start": 1}],
                      "is_impossible": True})
    return {"version": "2.0" if v2 else "1.1", "data": [
        {"title": "Huyện_Ba_Chẽ", "paragraphs": [{"context": CONTEXT_1, "qas": [
            {"id": "q1", "question": "Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?",
             "answers": [{"text": "1,29%", "answer_start": 0},
                         {"text": "1,29%", "answer_start": 0}]},
            {"id": "q2", "question": "Tổng số đảng viên toàn đảng bộ huyện Ba Chẽ là bao nhiêu?",
             "answers": [{"text": "2033", "answer_start": 0}]}]}]},
        {"title": "Huyện_Cao_Lộc", "paragraphs": [{"context": CONTEXT_2, "qas": qas_2}]},
    ]}


def write_squad(folder: Path, v2: bool = False) -> Path:
    path = folder / ("v2.json" if v2 else "v1.json")
    path.write_text(json.dumps(squad_obj(v2), ensure_ascii=False), encoding="utf-8")
    return path


def test_load_squad_v1(tmp_path: Path) -> None:
    data = load_eval_set(write_squad(tmp_path))
    assert [e.qid for e in data.examples] == ["q1", "q2", "q3"]
    assert data.examples[0].answers == ("1,29%",)  # duplicates collapsed
    assert data.examples[2].question == unicodedata.normalize("NFC", data.examples[2].question)
    assert [(p.doc_id, p.title) for p in data.paragraphs] == [("0-0", "Huyện Ba Chẽ"),
                                                              ("1-0", "Huyện Cao Lộc")]
    assert data.examples[2].doc == "1-0"


def test_load_squad_v2_impossible_has_no_answers(tmp_path: Path) -> None:
    data = load_eval_set(write_squad(tmp_path, v2=True))
    last = data.examples[-1]
    assert last.qid == "q4" and last.answers == () and not last.answerable


def test_load_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    rows = [{"id": "s1", "question": nfd("Tỷ lệ hộ nghèo còn bao nhiêu?"),
             "answers": ["1,29%"], "doc": "004"},
            {"question": "Dân số huyện Cao Lộc là bao nhiêu người?", "answers": [], "doc": None},
            {"question": "Ai chủ trì?", "answers": "Nguyễn Minh Sơn"}]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n\n")
    data = load_eval_set(path)
    assert data.paragraphs == ()
    a, b, c = data.examples
    assert (a.qid, a.doc, a.answers) == ("s1", "004", ("1,29%",))
    assert a.question == "Tỷ lệ hộ nghèo còn bao nhiêu?"
    assert not b.answerable and b.doc is None and b.qid == "2"
    assert c.answers == ("Nguyễn Minh Sơn",)


@pytest.mark.parametrize("content", [
    '{"question": "a?"}\nnot json\n',
    '{"answers": ["x"]}\n',
    '{"question": "a?", "answers": [1]}\n',
    '{"question": "a?", "doc": 3}\n',
    "",
])
def test_load_bad_files_raise_input_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError):
        load_eval_set(path)


def test_load_bad_squad_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"data": [{"title": "x"}]}', encoding="utf-8")
    with pytest.raises(InputError, match="SQuAD"):
        load_eval_set(path)
    with pytest.raises(InputError, match="cannot read"):
        load_eval_set(tmp_path / "missing.json")


# -- runner and CLI (hash embedder, no model) -------------------------------------------------
class FakeEmbedder(HashEmbedder):
    """The hash embedder with the real ``Embedder(config)`` signature, for the CLI."""

    def __init__(self, config: Config | None = None) -> None:
        super().__init__()


def test_evaluate_on_built_squad_index(tmp_path: Path) -> None:
    from qa.engine import QAEngine

    data = load_eval_set(write_squad(tmp_path, v2=True))
    config = Config(home=tmp_path / "home", index_dir=tmp_path / "index")
    emb = FakeEmbedder()
    report = build_eval_index(data, config, emb, "v2.json")
    assert report.documents == 2
    engine = QAEngine(config, embedder=emb)
    results = evaluate(engine, data.examples, k=3)
    assert len(results) == 4
    assert all(r.asked and r.latency_ms is not None for r in results)
    by_id = {r.example.qid: r for r in results}
    assert by_id["q1"].rank == 1 and by_id["q3"].rank == 1  # one paragraph per topic
    assert by_id["q4"].rank is None
    m = summarize(results)
    assert m["recall@1"] == 1.0 and 0.0 <= m["f1"] <= 1.0


def test_build_eval_index_needs_contexts(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text('{"question": "a?", "answers": ["b"]}\n', encoding="utf-8")
    config = Config(home=tmp_path, index_dir=tmp_path / "index")
    with pytest.raises(InputError, match="--build"):
        build_eval_index(load_eval_set(path), config, FakeEmbedder(), str(path))


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("index.embedder.Embedder", FakeEmbedder)
    monkeypatch.setenv("HOIDAP_HOME", str(tmp_path / "home"))


def test_cli_eval_build_json_and_out(tmp_path: Path, fake_model, capsys) -> None:
    squad = write_squad(tmp_path, v2=True)
    out = tmp_path / "results.jsonl"
    code = main(["eval", str(squad), "--build", "--limit", "3", "--k", "3", "--mode", "bm25",
                 "--json", "--out", str(out)])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["questions"] == 3 and metrics["mode"] == "bm25"
    assert metrics["recall@5"] == 1.0
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in lines] == ["q1", "q2", "q3"]
    assert {"question", "gold", "predicted", "scores", "rank", "no_answer",
            "latency_ms"} <= set(lines[0])
    assert not (tmp_path / "home" / "index").exists()  # --build never touches the default index


def test_cli_eval_table_on_existing_index(tmp_path: Path, fake_model, capsys) -> None:
    from qa.search.write import build_index

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bachem.txt").write_text("Báo cáo huyện Ba Chẽ\n\n" + CONTEXT_1, encoding="utf-8")
    build_index([docs], Config(home=tmp_path, index_dir=tmp_path / "idx"), FakeEmbedder())
    qa = tmp_path / "qa.jsonl"
    qa.write_text(json.dumps({"question": "Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?",
                              "answers": ["1,29%"], "doc": "bachem"}, ensure_ascii=False))
    assert main(["eval", str(qa), "--index", str(tmp_path / "idx")]) == 0
    table = capsys.readouterr().out
    assert "R@1" in table and "answer F1" in table


@pytest.mark.parametrize("extra", [["--limit", "0"], ["--k", "0"], ["--build"]])
def test_cli_eval_bad_input_exits_2(tmp_path: Path, fake_model, capsys, extra) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"question": "a?", "answers": ["b"]}\n', encoding="utf-8")
    assert main(["eval", str(qa), *extra]) == 2
    assert "error" in capsys.readouterr().err


def test_answer_sentence_covers_the_span():
    from qa.evaluate import answer_sentence

    text = "Câu đầu tiên ở xã Tân Liên. Tỷ lệ hộ nghèo còn 1,29%. Câu cuối."
    start = text.index("1,29%")
    assert answer_sentence(text, start, start + 5) == "Tỷ lệ hộ nghèo còn 1,29%."
    across = answer_sentence(text, text.index("xã Tân"), start)
    assert across.startswith("Câu đầu") and across.endswith("1,29%.")
