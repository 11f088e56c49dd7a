"""Confidence calibration: the isotonic fit, its application, the reliability metrics, the
shipped table and the Vietnamese label (pure; no model)."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest

from hoidap.errors import ModelError
from qa.calibration import (
    TABLE_FILE,
    CalibrationMap,
    CalibrationTable,
    confidence_level,
    confidence_text,
    expected_calibration_error,
    fit_isotonic,
    load_table,
    reliability,
    with_confidence,
)
from qa.types import Answer, Citation


def _synthetic(n: int = 2000, seed: int = 1) -> tuple[list[float], list[bool]]:
    """Scores in [0, 1] whose true chance of being right is score ** 2 (overconfident)."""
    rng = random.Random(seed)
    scores = [rng.random() for _ in range(n)]
    return scores, [rng.random() < s * s for s in scores]


def test_fit_is_monotone_and_recovers_the_true_rate():
    scores, right = _synthetic()
    cmap = fit_isotonic(scores, right)
    grid = [i / 100 for i in range(101)]
    values = [cmap(s) for s in grid]
    assert all(b >= a for a, b in zip(values, values[1:], strict=False))
    for s in (0.3, 0.6, 0.9):
        assert abs(cmap(s) - s * s) < 0.1


def test_fit_lowers_the_calibration_error_on_fresh_data():
    scores, right = _synthetic(seed=1)
    check_s, check_r = _synthetic(seed=2)
    cmap = fit_isotonic(scores, right)
    before = expected_calibration_error(check_s, check_r)
    after = expected_calibration_error([cmap(s) for s in check_s], check_r)
    assert before > 0.1 and after < 0.05


def test_fit_pools_violators_and_keeps_blocks_large():
    # Right answers at low scores, wrong ones at high scores: one pooled block.
    scores = [0.1] * 30 + [0.9] * 30
    right = [True] * 30 + [False] * 30
    cmap = fit_isotonic(scores, right, min_count=20)
    assert len(cmap.knots) == 1 and cmap(0.1) == cmap(0.9) == pytest.approx(0.5)
    assert cmap.counts == (60,)
    few = fit_isotonic([0.2, 0.4, 0.6, 0.8], [False, False, True, True], min_count=20)
    assert few.counts == (4,)


def test_fit_smooths_a_perfect_block():
    cmap = fit_isotonic([0.95] * 20, [True] * 20)
    assert cmap(0.95) == pytest.approx(21 / 22)  # (right + 1) / (n + 2), never 1.0


def test_map_interpolates_and_is_flat_outside():
    cmap = CalibrationMap((0.2, 0.6), (0.3, 0.7))
    assert cmap(0.0) == 0.3 and cmap(1.0) == 0.7
    assert cmap(0.4) == pytest.approx(0.5)


def test_map_rejects_a_decreasing_table():
    with pytest.raises(ModelError, match="non-decreasing"):
        CalibrationMap((0.2, 0.6), (0.7, 0.3))
    with pytest.raises(ModelError, match="knots"):
        CalibrationMap((), ())


def test_fit_rejects_mismatched_input():
    with pytest.raises(ModelError, match="2 scores, 1 labels"):
        fit_isotonic([0.1, 0.2], [True])


def test_reliability_bins_and_ece():
    bins = reliability([0.05, 0.15, 0.15, 1.0], [False, True, False, True], bins=10)
    assert [(b.lo, b.n, b.right) for b in bins] == [(0.0, 1, 0.0), (0.1, 2, 0.5), (0.9, 1, 1.0)]
    # |0.05-0| * 1 + |0.15-0.5| * 2 + |1-1| * 1, over 4
    assert expected_calibration_error([0.05, 0.15, 0.15, 1.0],
                                      [False, True, False, True]) == pytest.approx(0.75 / 4)


def test_levels():
    assert confidence_level(0.8, 0.8, 0.5) == "high"
    assert confidence_level(0.79, 0.8, 0.5) == "medium"
    assert confidence_level(0.5, 0.8, 0.5) == "medium"
    assert confidence_level(0.49, 0.8, 0.5) == "low"


def test_confidence_text_is_plain_vietnamese():
    assert confidence_text(0.83, "high") == \
        "Độ tin cậy: cao (khoảng 8/10 câu trả lời ở mức này là đúng)"
    assert confidence_text(0.04, "low").startswith("Độ tin cậy: thấp (dưới 1/10")
    assert "chưa hiệu chỉnh" in confidence_text(None, None)


def _answer(score: float) -> Answer:
    return Answer("452,2 tỷ đồng", score, Citation("d", "t", None, "s", 1, 0, 5), "p", 0, 1)


def test_with_confidence_uses_the_readers_map():
    table = CalibrationTable({"heuristic": CalibrationMap((0.2, 0.9), (0.2, 0.9))}, 0.8, 0.5,
                             {})
    low, high = with_confidence([_answer(0.3), _answer(0.95)], table, "heuristic")
    assert (low.confidence, low.confidence_level) == (pytest.approx(0.3), "low")
    assert (high.confidence, high.confidence_level) == (0.9, "high")
    assert high.score == 0.95  # the raw score is kept
    assert with_confidence([_answer(0.3)], table, "neural")[0].confidence is None
    assert with_confidence([_answer(0.3)], None, "heuristic")[0].confidence is None
    rated = replace(_answer(0.3), confidence=0.7, confidence_level="medium")
    assert with_confidence([rated], table, "heuristic")[0].confidence == 0.7  # kept as given


def test_the_shipped_table_loads_and_is_monotone():
    table = load_table()
    assert set(table.maps) >= {"heuristic", "neural"}
    assert table.low < table.high
    for cmap in table.maps.values():
        values = [cmap(i / 100) for i in range(101)]
        assert all(b >= a for a, b in zip(values, values[1:], strict=False))
        assert all(0.0 <= v <= 1.0 for v in values)
    for kind, cmap in table.maps.items():  # fitted on real held-out samples
        assert sum(cmap.counts) >= (150 if "/" in kind else 300), kind
    data = json.loads(TABLE_FILE.read_text(encoding="utf-8"))
    assert data["data"]["xquad"] == "not used" and data["date"] and data["summary"]


def test_a_missing_or_broken_table_is_a_clear_error(tmp_path):
    with pytest.raises(ModelError, match="calibrate_confidence"):
        load_table(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"readers": {"heuristic": {"knots": [0.1]}}}', encoding="utf-8")
    with pytest.raises(ModelError, match="malformed"):
        load_table(bad)
