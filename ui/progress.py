"""Progress of an indexing job as data: state transitions, time left, and its display.

Everything here is a pure function of a :class:`JobState` and the time ``now`` (seconds on
a monotonic clock), so the arithmetic is tested without a job, a process or a page. The job
runner (``ui.jobs``) keeps one state per job and replaces it as reports come in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from html import escape
from typing import Literal

Phase = Literal["queued", "reading", "embedding", "saving", "done", "failed"]
FINISHED: tuple[Phase, ...] = ("done", "failed")
MIN_RATE_SECONDS = 0.5  # time measured after the first batch before a time left is given

PHASE_TEXT: dict[str, str] = {
    "queued": "Đang chờ lượt",
    "reading": "Đang đọc và chia đoạn",  # files read, chunked, the model loaded
    "embedding": "Đang tạo vector cho các đoạn văn",
    "saving": "Đang lưu chỉ mục",
    "done": "Đã xong",
    "failed": "Không thành công",
}


@dataclass(frozen=True)
class JobState:
    """One indexing job at one moment (times on the runner's monotonic clock)."""

    job_id: str
    files: int
    submitted: float
    phase: Phase = "queued"
    started: float | None = None
    embedded: int = 0  # chunks embedded so far
    total: int = 0  # chunks to embed (0 until the first report)
    rate_from: tuple[float, int] | None = None  # (time, chunks) at the first embedding report
    finished: float | None = None
    message: str = ""  # the outcome, for people (set when finished)


def started(state: JobState, now: float) -> JobState:
    """The job has left the queue and is reading its files."""
    return replace(state, phase="reading", started=now)


def advanced(state: JobState, stage: str, done: int, total: int, now: float) -> JobState:
    """``state`` after a build report ``(stage, done, total)``; only ``embed`` reports count.
    The rate is measured from the first report on, so loading the model (before the first
    batch) does not make the time left look long, nor a cached first batch make it short."""
    if stage != "embed" or state.phase in FINISHED:
        return state
    done, total = max(0, done), max(0, total)
    return replace(state, phase="saving" if done >= total else "embedding",
                   embedded=min(done, total), total=total,
                   rate_from=state.rate_from or (now, done))


def finished(state: JobState, ok: bool, message: str, now: float) -> JobState:
    """The job's end, with its outcome."""
    return replace(state, phase="done" if ok else "failed", finished=now, message=message)


def rate(state: JobState, now: float) -> float | None:
    """Chunks embedded per second since the first report (None until measurable)."""
    if state.rate_from is None:
        return None
    t0, d0 = state.rate_from
    if now - t0 < MIN_RATE_SECONDS or state.embedded <= d0:
        return None
    return (state.embedded - d0) / (now - t0)


def eta_seconds(state: JobState, now: float) -> float | None:
    """Seconds left to embed the remaining chunks at the measured rate (None: unknown)."""
    if state.phase != "embedding":
        return None
    per_second = rate(state, now)
    return None if per_second is None else (state.total - state.embedded) / per_second


def elapsed_seconds(state: JobState, now: float) -> float:
    """Seconds since the job started (0 while queued; frozen once finished)."""
    if state.started is None:
        return 0.0
    return max(0.0, (state.finished if state.finished is not None else now) - state.started)


def fraction(state: JobState) -> float:
    """How far along the job is, 0..1 (embedding is nearly all of the work)."""
    if state.phase == "done":
        return 1.0
    if state.total <= 0:
        return 0.0
    return min(1.0, state.embedded / state.total)


def duration_text(seconds: float) -> str:
    """``1 phút 05 giây``, ``12 giây``, ``dưới 1 giây`` (rounded up to a second)."""
    if seconds < 1:
        return "dưới 1 giây"
    whole = int(seconds) + (seconds > int(seconds))
    minutes, secs = divmod(whole, 60)
    if not minutes:
        return f"{secs} giây"
    return f"{minutes} phút {secs:02d} giây"


def progress_text(state: JobState, now: float, ahead: int = 0) -> str:
    """One Vietnamese line: phase, files, chunks, elapsed time and time left."""
    files = f"{state.files} tệp"
    if state.phase == "queued":
        return f"{PHASE_TEXT['queued']} ({files}; {ahead} lượt tải trước)." if ahead else \
            f"{PHASE_TEXT['queued']} ({files})."
    parts = [f"{PHASE_TEXT[state.phase]}: {files}"]
    if state.total:
        parts.append(f"{state.embedded}/{state.total} đoạn ({round(100 * fraction(state))}%)")
    parts.append(f"đã chạy {duration_text(elapsed_seconds(state, now))}")
    if state.phase == "embedding":
        left = eta_seconds(state, now)
        parts.append("đang ước tính thời gian còn lại" if left is None
                     else f"còn khoảng {duration_text(left)}")
    return " · ".join(parts) + "."


def progress_html(state: JobState, now: float, ahead: int = 0) -> str:
    """A progress bar and the :func:`progress_text` line (an ARIA live region); the finished
    job's message below it once there is one."""
    percent = round(100 * fraction(state))
    line = escape(progress_text(state, now, ahead))
    bar = (f'<div class="hd-bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
           f'aria-valuenow="{percent}" aria-label="Tiến độ lập chỉ mục">'
           f'<div class="hd-bar-fill" style="width:{percent}%"></div></div>')
    return (f'<div class="hd-job hd-job-{state.phase}" role="status" aria-live="polite">'
            f'{bar}<p class="hd-job-line">{line}</p></div>')


PROGRESS_CSS = """
.hd-job{margin:.4rem 0}
.hd-bar{height:.7rem;border-radius:.35rem;background:var(--neutral-200,#e5e7eb);overflow:hidden}
.hd-bar-fill{height:100%;background:var(--color-accent,#f97316);transition:width .4s ease}
.hd-job-line{margin:.3rem 0;font-size:.9rem}
.hd-job-failed .hd-bar-fill{background:#9a2f2f}
"""
