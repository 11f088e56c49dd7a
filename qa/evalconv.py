"""Conversational evaluation (CoQA / ViCoQA JSON): every turn asked in order, with history.

Each story is indexed as one document. For each turn we record whether the right story is
the first passage, whether the top answer lies inside or overlaps the turn's rationale
(``span_text``), and the token F1 of the answer against the free-form answers
(``input_text``, plus ``additional_answers``). Metrics are split by turn 1 and turns >= 2.
"""

from __future__ import annotations

import json
import math
import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from hoidap.errors import InputError
from qa.conversation import MAX_TURNS, Turn
from qa.evaluate import Paragraph, percentile, token_f1


@dataclass(frozen=True)
class ConvTurn:
    """One question of a conversation with its gold answers and rationale."""

    qid: str
    question: str
    answers: tuple[str, ...]
    rationale: str


@dataclass(frozen=True)
class Conversation:
    """A story (one document) and its questions, in order."""

    doc_id: str
    turns: tuple[ConvTurn, ...]


@dataclass(frozen=True)
class ConvSet:
    """Conversations and the stories they are about."""

    conversations: tuple[Conversation, ...]
    paragraphs: tuple[Paragraph, ...]

    def limited(self, n: int | None) -> ConvSet:
        """Only the first ``n`` conversations (and their stories)."""
        if not n:
            return self
        keep = self.conversations[:n]
        ids = {c.doc_id for c in keep}
        return ConvSet(keep, tuple(p for p in self.paragraphs if p.doc_id in ids))


def _nfc(text: object) -> str:
    return unicodedata.normalize("NFC", str(text or "")).strip()


def _conversation(story: dict, i: int) -> tuple[Conversation, Paragraph]:
    doc_id = f"story-{story.get('id', i)}"
    extra = story.get("additional_answers") or {}
    turns = []
    for q, a in zip(story["questions"], story["answers"], strict=True):
        tid = q["turn_id"]
        golds = [a.get("input_text", "")]
        for answers in extra.values():
            golds += [x.get("input_text", "") for x in answers if x.get("turn_id") == tid]
        turns.append(ConvTurn(f"{doc_id}#{tid}", _nfc(q["input_text"]),
                              tuple(dict.fromkeys(g for g in map(_nfc, golds) if g)),
                              _nfc(a.get("span_text", ""))))
    title = _nfc(story.get("name") or story.get("title") or doc_id)
    return Conversation(doc_id, tuple(turns)), Paragraph(doc_id, title, _nfc(story["story"]))


def parse_coqa(data: object, source: str = "CoQA") -> ConvSet:
    """Conversations of a CoQA-shaped object (``data[].story/questions[]/answers[]``)."""
    try:
        stories = data["data"]  # type: ignore[index]
        pairs = [_conversation(s, i) for i, s in enumerate(stories)]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InputError(f"{source} is not CoQA JSON (data[].story, questions[].input_text, "
                         f"answers[].input_text/span_text): bad or missing field {exc}") from exc
    if not pairs:
        raise InputError(f"{source} has no conversations")
    return ConvSet(tuple(c for c, _ in pairs), tuple(p for _, p in pairs))


def load_conversations(path: Path) -> ConvSet:
    """Read a CoQA / ViCoQA JSON file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"cannot read conversations file {path}: {exc}") from exc
    return parse_coqa(data, str(path))


# -- metrics (pure) ---------------------------------------------------------------------------


def find_span(text: str, fragment: str) -> tuple[int, int] | None:
    """Where ``fragment`` occurs in ``text`` (whitespace-insensitive), or None."""
    words = fragment.split()
    if not words:
        return None
    m = re.search(r"\s+".join(map(re.escape, words)), text)
    return (m.start(), m.end()) if m else None


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    """True when the half-open spans share a character."""
    return a[0] < b[1] and b[0] < a[1]


@dataclass(frozen=True)
class TurnResult:
    """What happened to one turn."""

    qid: str
    turn: int  # 1-based position in its conversation
    story_at_1: bool
    in_rationale: bool
    f1: float
    no_answer: bool
    used_history: bool
    latency_ms: float
    predicted: str = ""
    understood: str | None = None

    def to_dict(self) -> dict:
        """One line of ``--out``."""
        return {"id": self.qid, "turn": self.turn, "story_at_1": self.story_at_1,
                "in_rationale": self.in_rationale, "f1": round(self.f1, 4),
                "no_answer": self.no_answer, "used_history": self.used_history,
                "predicted": self.predicted, "understood": self.understood,
                "latency_ms": round(self.latency_ms, 2)}


def _in_rationale(engine, result, conv: Conversation, turn: ConvTurn) -> bool:
    if result.no_answer or not result.answers:
        return False
    c = result.answers[0].citation
    if c.doc_id != conv.doc_id:
        return False
    span = find_span(engine.document(conv.doc_id).text, turn.rationale)
    return span is not None and overlaps((c.start, c.end), span)


def ask_turn(engine, conv: Conversation, turn: ConvTurn, position: int,
             history: Sequence[Turn] | None, k: int) -> tuple[TurnResult, Turn]:
    """Ask one turn; its result and the history entry it leaves behind."""
    t0 = time.perf_counter()
    result = engine.ask(turn.question, k=k, history=list(history) if history else None)
    ms = (time.perf_counter() - t0) * 1000
    top = result.answers[0] if result.answers and not result.no_answer else None
    pred = top.text if top else ""
    out = TurnResult(turn.qid, position,
                     bool(result.passages) and result.passages[0].doc_id == conv.doc_id,
                     _in_rationale(engine, result, conv, turn), token_f1(pred, turn.answers),
                     result.no_answer, result.understood is not None, ms, pred,
                     result.understood)
    return out, Turn(turn.question, pred, top.citation.doc_id if top else None)


def evaluate_conversations(engine, conversations: Sequence[Conversation], *, k: int = 5,
                           history: bool = True, session: bool = False,
                           progress: Callable[[int], None] | None = None) -> list[TurnResult]:
    """Ask every turn in order; with ``history`` each turn gets the earlier turns of its
    conversation (with ``session`` also those of the conversations before it, as if one
    user changed topic at every new story: the guard against being pulled to the old topic
    is then measured on turn 1)."""
    results: list[TurnResult] = []
    past: list[Turn] = []
    for conv in conversations:
        if not session:
            past = []
        for position, turn in enumerate(conv.turns, 1):
            res, entry = ask_turn(engine, conv, turn, position,
                                  past[-MAX_TURNS:] if history else None, k)
            results.append(res)
            past.append(entry)
            if progress:
                progress(1)
    return results


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _group(results: Sequence[TurnResult]) -> dict[str, object]:
    lat = [r.latency_ms for r in results]
    return {"questions": len(results),
            "story@1": _mean([float(r.story_at_1) for r in results]),
            "in_rationale": _mean([float(r.in_rationale) for r in results]),
            "f1": _mean([r.f1 for r in results]),
            "refused": _mean([float(r.no_answer) for r in results]),
            "used_history": _mean([float(r.used_history) for r in results]),
            "latency_p50_ms": None if not lat else round(percentile(lat, 50), 1)}


def summarize_conversations(results: Sequence[TurnResult]) -> dict[str, object]:
    """Metrics for turn 1, turns >= 2 and all turns."""
    first = [r for r in results if r.turn == 1]
    later = [r for r in results if r.turn >= 2]
    return {"turn1": _group(first), "later": _group(later), "all": _group(results)}


_ROWS = (("story@1", "right story at rank 1"), ("in_rationale", "answer in/overlaps rationale"),
         ("f1", "answer token F1"), ("refused", "refused"),
         ("used_history", "history used"), ("latency_p50_ms", "ask latency p50 (ms)"))


def format_conversation_metrics(metrics: dict) -> str:
    """A table: one row per metric, columns turn 1 / turns >= 2 / all."""
    def cell(v: object) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "n/a"
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    groups = ("turn1", "later", "all")
    lines = [f"{'':<32}{'turn 1':>10}{'turns >= 2':>12}{'all':>10}",
             f"{'questions':<32}" + "".join(f"{cell(metrics[g]['questions']):>{w}}"
                                             for g, w in zip(groups, (10, 12, 10), strict=True))]
    for key, label in _ROWS:
        lines.append(f"{label:<32}" + "".join(
            f"{cell(metrics[g][key]):>{w}}" for g, w in zip(groups, (10, 12, 10), strict=True)))
    if "history" in metrics:
        lines.append(f"{'history':<32}{metrics['history']:>10}")
    return "\n".join(lines)
