"""Calibrated confidence: a reader's raw score mapped to the chance that the answer is right.

A reader's score ranks answers but is not a probability (the heuristic reader gives wrong
answers 0.96-1.0). :func:`fit_isotonic` fits a monotone map score -> P(right) on held-out
questions asked end to end (pooled adjacent violators, blocks of at least ``min_count``
questions, each block's rate smoothed towards 1/2); :class:`CalibrationTable` is the fitted
map of each reader as shipped in ``qa/models/calibration.json`` (``scripts/calibrate_confidence.py``
writes it; docs/calibration.md shows the data and the reliability tables).
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from hoidap.errors import ModelError
from qa.types import Answer

TABLE_FILE = Path(__file__).resolve().parent / "models" / "calibration.json"


@dataclass(frozen=True)
class CalibrationMap:
    """A monotone piecewise-linear map through ``(knots[i], values[i])``, flat outside."""

    knots: tuple[float, ...]  # raw scores, strictly increasing
    values: tuple[float, ...]  # P(right) at each knot, non-decreasing, in [0, 1]
    counts: tuple[int, ...] = ()  # questions behind each knot (fit data)

    def __post_init__(self) -> None:
        if not self.knots or len(self.knots) != len(self.values):
            raise ModelError("a calibration map needs as many values as knots (at least one); "
                             "re-run scripts/calibrate_confidence.py")
        if any(b <= a for a, b in zip(self.knots, self.knots[1:], strict=False)) or \
                any(b < a for a, b in zip(self.values, self.values[1:], strict=False)):
            raise ModelError("a calibration map must be increasing (knots) and non-decreasing "
                             "(values); re-run scripts/calibrate_confidence.py")

    def __call__(self, score: float) -> float:
        """P(right) of an answer with raw ``score``."""
        i = bisect_right(self.knots, score)
        if i == 0:
            return self.values[0]
        if i == len(self.knots):
            return self.values[-1]
        x0, x1 = self.knots[i - 1], self.knots[i]
        y0, y1 = self.values[i - 1], self.values[i]
        return y0 + (y1 - y0) * (score - x0) / (x1 - x0)

    def to_dict(self) -> dict:
        """The map as stored in the JSON table."""
        return {"knots": [round(k, 6) for k in self.knots],
                "values": [round(v, 6) for v in self.values], "counts": list(self.counts)}

    @classmethod
    def from_dict(cls, data: dict) -> CalibrationMap:
        """The map from its JSON form."""
        return cls(tuple(float(k) for k in data["knots"]),
                   tuple(float(v) for v in data["values"]),
                   tuple(int(c) for c in data.get("counts", ())))


def _pool(blocks: list[list[float]]) -> list[list[float]]:
    """Pooled adjacent violators over blocks ``[sum_score, sum_right, n]`` sorted by score."""
    out: list[list[float]] = []
    for b in blocks:
        out.append(list(b))
        while len(out) > 1 and out[-2][1] * out[-1][2] >= out[-1][1] * out[-2][2]:
            s, r, n = out.pop()
            out[-1] = [out[-1][0] + s, out[-1][1] + r, out[-1][2] + n]
    return out


def _merge_small(blocks: list[list[float]], min_count: int) -> list[list[float]]:
    """Adjacent blocks merged until each holds at least ``min_count`` questions (the merged
    rate lies between its parts', so the order stays monotone)."""
    out = [list(b) for b in blocks]
    while len(out) > 1 and min(b[2] for b in out) < min_count:
        i = min(range(len(out)), key=lambda j: out[j][2])
        j = i - 1 if i == len(out) - 1 or (i > 0 and out[i - 1][2] <= out[i + 1][2]) else i + 1
        lo, hi = min(i, j), max(i, j)
        out[lo:hi + 1] = [[out[lo][k] + out[hi][k] for k in range(3)]]
    return out


def fit_isotonic(scores: Sequence[float], right: Sequence[bool],
                 min_count: int = 20) -> CalibrationMap:
    """Monotone map score -> P(right) from held-out (score, right) pairs.

    Pooled adjacent violators on the sorted scores, blocks of fewer than ``min_count``
    questions merged with a neighbour, each block's rate smoothed as (right + 1) / (n + 2)
    (a block of 20 right answers says 0.95, not 1.0), knots at the blocks' mean scores.
    """
    if len(scores) != len(right) or not scores:
        raise ModelError(f"calibration needs matching, non-empty scores and labels (got "
                         f"{len(scores)} scores, {len(right)} labels)")
    pairs = sorted(zip(scores, right, strict=True))
    blocks: list[list[float]] = []
    for s, r in pairs:  # equal scores form one block: a map cannot split them
        if blocks and blocks[-1][0] / blocks[-1][2] == s:
            blocks[-1] = [blocks[-1][0] + s, blocks[-1][1] + r, blocks[-1][2] + 1]
        else:
            blocks.append([float(s), float(r), 1.0])
    blocks = _merge_small(_pool(blocks), min_count)
    smoothed = [[b[0], (b[1] + 1) / (b[2] + 2) * b[2], b[2]] for b in blocks]
    final = _pool(smoothed)  # smoothing can reorder blocks of unequal size: pool again
    return CalibrationMap(tuple(b[0] / b[2] for b in final), tuple(b[1] / b[2] for b in final),
                          tuple(int(b[2]) for b in final))


@dataclass(frozen=True)
class Bin:
    """One bin of a reliability table."""

    lo: float
    hi: float
    n: int
    mean_score: float
    right: float  # fraction of the bin's answers that were right


def reliability(probs: Sequence[float], right: Sequence[bool], bins: int = 10) -> list[Bin]:
    """Equal-width bins of [0, 1] (the last one closed), empty bins left out."""
    groups: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for p, r in zip(probs, right, strict=True):
        groups[min(bins - 1, max(0, int(p * bins)))].append((p, r))
    return [Bin(i / bins, (i + 1) / bins, len(g), sum(p for p, _ in g) / len(g),
                sum(r for _, r in g) / len(g)) for i, g in enumerate(groups) if g]


def expected_calibration_error(probs: Sequence[float], right: Sequence[bool],
                               bins: int = 10) -> float:
    """Mean |stated probability - fraction right| over bins, weighted by their size."""
    table = reliability(probs, right, bins)
    total = sum(b.n for b in table)
    return sum(b.n * abs(b.mean_score - b.right) for b in table) / total if total else 0.0


def confidence_level(p: float, high: float, low: float) -> str:
    """"high" at ``p >= high``, "low" below ``low``, else "medium"."""
    return "high" if p >= high else "low" if p < low else "medium"


@dataclass(frozen=True)
class Confidence:
    """What an answer says about itself: calibrated chance of being right and its level."""

    value: float
    level: str


@dataclass(frozen=True)
class CalibrationTable:
    """The shipped maps, one per reader kind, and the level thresholds."""

    maps: dict[str, CalibrationMap]
    high: float
    low: float
    meta: dict

    def confidence(self, reader_kind: str, score: float,
                   group: str | None = None) -> Confidence | None:
        """The calibrated confidence of an answer: the map of the reader's question
        ``group`` ("heuristic/figure") when the table has one, else the reader's map; None for
        a reader the table lacks."""
        cmap = self.maps.get(f"{reader_kind}/{group}") or self.maps.get(reader_kind)
        if cmap is None:
            return None
        p = round(cmap(score), 4)
        return Confidence(p, confidence_level(p, self.high, self.low))

    def to_dict(self) -> dict:
        """The table's JSON form."""
        return {"levels": {"high": self.high, "low": self.low},
                "readers": {k: m.to_dict() for k, m in self.maps.items()}, **self.meta}


def parse_table(data: dict, source: str) -> CalibrationTable:
    """A table from its JSON form; :class:`ModelError` naming ``source`` when malformed."""
    try:
        maps = {k: CalibrationMap.from_dict(v) for k, v in data["readers"].items()}
        high, low = float(data["levels"]["high"]), float(data["levels"]["low"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelError(f"calibration table {source} is malformed ({exc!r}); re-run "
                         "scripts/calibrate_confidence.py") from exc
    meta = {k: v for k, v in data.items() if k not in ("readers", "levels")}
    return CalibrationTable(maps, high, low, meta)


def load_table(path: Path | None = None) -> CalibrationTable:
    """The calibration table at ``path`` (default: the one shipped in qa/models)."""
    path = Path(path) if path is not None else TABLE_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"no calibration table at {path} ({exc.strerror}); answers have no "
                         "calibrated confidence until scripts/calibrate_confidence.py writes "
                         "it") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ModelError(f"calibration table {path} is not JSON ({exc}); re-run "
                         "scripts/calibrate_confidence.py") from exc
    return parse_table(data, str(path))


def question_group(question: str) -> str:
    """"figure" for a question asking a number, a share or a duration, else "other" (readers
    are right more often on figures at the same score, so they have their own map)."""
    from qa.qtype import classify

    info = classify(question)
    return "figure" if info.qtype in ("number", "duration") or info.percent else "other"


def with_confidence(answers: Sequence[Answer], table: CalibrationTable | None,
                    reader_kind: str, question: str = "") -> list[Answer]:
    """``answers`` to ``question`` with their calibrated confidence (unchanged without a
    table or a map for ``reader_kind``; an answer that already has one, e.g. from the
    ensemble reader, keeps it)."""
    if table is None or not answers:
        return list(answers)
    group = question_group(question)
    out = []
    for a in answers:
        conf = None if a.confidence is not None else table.confidence(reader_kind, a.score, group)
        out.append(a if conf is None else replace(a, confidence=conf.value,
                                                  confidence_level=conf.level))
    return out


_LEVEL_VI = {"high": "cao", "medium": "trung bình", "low": "thấp"}


def confidence_text(confidence: float | None, level: str | None) -> str:
    """The plain Vietnamese label of a confidence: "Độ tin cậy: cao (khoảng 8/10 câu trả lời ở
    mức này là đúng)"; "chưa hiệu chỉnh" without one."""
    if confidence is None or level is None:
        return "Độ tin cậy: chưa hiệu chỉnh (thiếu bảng qa/models/calibration.json)"
    tenths = round(confidence * 10)
    share = "dưới 1/10" if tenths == 0 else f"khoảng {tenths}/10"
    return f"Độ tin cậy: {_LEVEL_VI.get(level, level)} ({share} câu trả lời ở mức này là đúng)"
