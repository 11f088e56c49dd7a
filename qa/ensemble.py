"""Two readers, one answer: the heuristic and the neural reader both read the passages and the
answer whose calibrated confidence is higher is kept (``reader.kind = "ensemble"``).

Calibrated figures (``qa/calibration.py``) are the share of right answers at that score on
held-out data, so they compare across readers where raw scores do not. Each reader keeps its
own refusal threshold: an answer below it never wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from index.types import Document
from qa.calibration import CalibrationTable, with_confidence
from qa.reader import Reader, is_no_answer
from qa.types import Answer, Passage

__all__ = ["EnsembleReader", "pick"]


def pick(first: Sequence[Answer], second: Sequence[Answer]) -> list[Answer]:
    """The list whose best answer has the higher confidence (``first`` on a tie or when
    neither has one); an empty list loses to any other."""
    if not first or not second:
        return list(first or second)
    a, b = first[0].confidence, second[0].confidence
    if a is None or b is None:
        return list(first)
    return list(second if b > a else first)


class EnsembleReader:
    """Reads with ``readers`` (``(kind, reader, refusal threshold)``, in order of preference)
    and keeps the most confident answers; answers already carry their confidence."""

    kind = "ensemble"

    def __init__(self, readers: Sequence[tuple[str, Reader, float]],
                 table: CalibrationTable | None, max_answers: int) -> None:
        self.readers = list(readers)
        self.table = table
        self.max_answers = max_answers

    def read(self, question: str, passages: Sequence[Passage],
             documents: Mapping[str, Document]) -> list[Answer]:
        """The answers of the reader whose best answer is the most likely right (empty when
        every reader refuses)."""
        best: list[Answer] = []
        for kind, reader, threshold in self.readers:
            answers = reader.read(question, passages, documents)[: self.max_answers]
            if is_no_answer(answers, threshold):
                continue
            best = pick(best, with_confidence(answers, self.table, kind, question))
        return best

    def load(self) -> EnsembleReader:
        """Load every reader's model now."""
        for _, reader, _ in self.readers:
            if hasattr(reader, "load"):
                reader.load()
        return self
