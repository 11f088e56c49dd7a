"""The ensemble reader: the more confident of two readers' answers wins; each keeps its own
refusal threshold (fake readers, no model)."""

from __future__ import annotations

from qa.calibration import CalibrationMap, CalibrationTable
from qa.ensemble import EnsembleReader, pick
from qa.types import Answer, Citation

TABLE = CalibrationTable({"heuristic": CalibrationMap((0.0, 1.0), (0.0, 0.5)),
                          "neural": CalibrationMap((0.0, 1.0), (0.0, 1.0))}, 0.8, 0.5, {})


def _answer(text: str, score: float, confidence: float | None = None) -> Answer:
    return Answer(text, score, Citation("d", "t", None, "s", 1, 0, len(text)), text, 0,
                  len(text), confidence)


class Fixed:
    """A reader that always gives the same answers."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)

    def read(self, question, passages, documents):
        return list(self.answers)


def test_pick_keeps_the_more_confident_list_and_the_first_on_a_tie():
    a, b = [_answer("3,5%", 0.9, 0.4)], [_answer("ở xã Hòa Bình", 0.3, 0.7)]
    assert pick(a, b) == b and pick(b, a) == b
    assert pick(a, [_answer("x", 0.1, 0.4)]) == a
    assert pick([], b) == b and pick(a, []) == a and pick([], []) == []
    assert pick([_answer("y", 0.9)], b)[0].text == "y"  # no confidence: the first reader


def test_the_answer_likelier_right_wins_across_readers():
    # heuristic 0.9 -> 0.45; neural 0.6 -> 0.6: the neural answer is likelier right.
    reader = EnsembleReader([("heuristic", Fixed(_answer("800 cây", 0.9)), 0.5),
                             ("neural", Fixed(_answer("3.945,25 ha", 0.6)), 0.2)], TABLE, 3)
    best = reader.read("Diện tích trồng keo là bao nhiêu?", [], {})
    assert best[0].text == "3.945,25 ha" and best[0].confidence == 0.6
    assert reader.kind == "ensemble"


def test_an_answer_below_its_readers_threshold_never_wins():
    reader = EnsembleReader([("heuristic", Fixed(_answer("452,2 tỷ đồng", 0.6)), 0.5),
                             ("neural", Fixed(_answer("Huyện", 0.15)), 0.2)], TABLE, 3)
    assert [a.text for a in reader.read("Tổng thu bao nhiêu?", [], {})] == ["452,2 tỷ đồng"]
    refusing = EnsembleReader([("heuristic", Fixed(_answer("a", 0.4)), 0.5),
                               ("neural", Fixed(), 0.2)], TABLE, 3)
    assert refusing.read("Ai?", [], {}) == []


def test_answers_are_cut_to_max_answers():
    many = Fixed(*[_answer(str(i), 0.9 - i / 100) for i in range(5)])
    reader = EnsembleReader([("neural", many, 0.2)], TABLE, 2)
    assert [a.text for a in reader.read("q", [], {})] == ["0", "1"]
