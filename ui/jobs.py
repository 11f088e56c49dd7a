"""Background indexing of uploads: one job at a time, away from the questions.

Embedding a large upload is CPU-bound for minutes. Run inside the web process it competes
with the questions for the GIL and for torch's threads, and a question waits seconds
(docs/benchmarks.md, "Uploads while people ask"). So a job of the local engine runs in a
worker process, started with ``spawn``, at a lower priority (``os.nice``) and with few threads
(``LimitsConfig.index_threads``); it writes a new index version exactly as
``hoidap index build`` does (the folder is swapped in with ``os.replace``), sends progress
reports through a pipe, and when it is done the serving engine switches to the new version
(:meth:`qa.engine.QAEngine.update_elsewhere`): a question in flight finishes on the old one.
The worker never touches the web process's memory, so the model it loads for bulk embedding
leaves with it. (The Milvus engine updates in place, in a thread of this process.)

A small upload (at most ``LimitsConfig.inline_upload_kb``, 48 KB: a report of a few pages, a
few dozen chunks, embedded by the query encoder the web process already holds in a fraction
of a second) is indexed in this process instead: starting a worker and loading a model there
would cost more than the whole job, and the new segment is searchable about a second after
the upload (0 KB: every upload goes to the worker).
The REST API and the chat both hand saved uploads (``ui.uploads.intake``) to the same
:class:`IndexJobs` queue; the files of a job that fails are rolled back
(``ui.uploads.commit_uploads``).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import pickle
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hoidap.config import Config
from hoidap.errors import HoidapError
from ui import progress as prog
from ui.progress import JobState
from ui.uploads import Saved, commit_uploads

if TYPE_CHECKING:
    from index.build import BuildReport, Progress
    from qa.engine import QAEngine

NICE = 10  # the worker's priority below the web process: questions get the CPU first
AUTO_THREADS = 1  # worker threads when not configured (docs/benchmarks.md)
POLL_S = 0.2  # how often the runner checks the worker for reports
KEEP_JOBS = 50  # finished jobs remembered for lookups


class IndexJobError(HoidapError):
    """The indexing worker stopped without a result (nothing was changed)."""


def worker_threads(configured: int) -> int:
    """Threads of the indexing worker: ``configured`` (``HOIDAP_INDEX_THREADS``) or the
    measured default."""
    return configured if configured > 0 else AUTO_THREADS


class IndexJob:
    """One submitted upload: its saved files, its progress, and its outcome."""

    def __init__(self, seq: int, saved: Sequence[Saved], now: float,
                 on_progress: Progress | None = None) -> None:
        self.seq = seq
        self.saved = list(saved)
        self.on_progress = on_progress
        self.report: BuildReport | None = None
        self.kept: list[Path] = []
        self.error: BaseException | None = None
        self._state = JobState(f"job-{seq}", len(self.saved), now)
        self._lock = threading.Lock()
        self._finished = threading.Event()

    @property
    def job_id(self) -> str:
        """The job's id (unique within its queue)."""
        return self._state.job_id

    @property
    def state(self) -> JobState:
        """The job's progress now (an immutable snapshot)."""
        with self._lock:
            return self._state

    @property
    def finished(self) -> bool:
        """Whether the job is done or failed."""
        return self._finished.is_set()

    def change(self, step: Callable[..., JobState], *args: Any) -> None:
        """Replace the state by ``step(state, *args)`` (a function of ``ui.progress``)."""
        with self._lock:
            self._state = step(self._state, *args)

    def end(self, report: BuildReport | None, kept: Sequence[Path],
            error: BaseException | None, now: float) -> None:
        """Record the outcome and wake :meth:`wait`."""
        self.report, self.kept, self.error = report, list(kept), error
        self.change(prog.finished, error is None, "" if error is None else str(error), now)
        self._finished.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (or ``timeout`` seconds); whether it has."""
        return self._finished.wait(timeout)

    def result(self) -> tuple[BuildReport, list[Path]]:
        """The build report and the files kept; the job's error if it failed."""
        self.wait()
        if self.error is not None:
            raise self.error
        assert self.report is not None
        return self.report, self.kept


class IndexJobs:
    """The queue of indexing jobs of one engine (one runs at a time, in submission order)."""

    def __init__(self, engine: QAEngine, *, in_process: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.clock = clock
        self.in_process = engine.config.engine != "local" if in_process is None else in_process
        self._queue: deque[IndexJob] = deque()
        self._jobs: OrderedDict[str, IndexJob] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._runner: threading.Thread | None = None

    def submit(self, saved: Sequence[Saved], on_progress: Progress | None = None) -> IndexJob:
        """Queue saved uploads for indexing; returns their job at once."""
        with self._lock:
            job = IndexJob(next(self._ids), saved, self.clock(), on_progress)
            self._jobs[job.job_id] = job
            self._forget_old()
            self._queue.append(job)
            if self._runner is None:  # the runner drains the queue, then ends
                self._runner = threading.Thread(target=self._run, name="hoidap-index-jobs",
                                                daemon=True)
                self._runner.start()
        return job

    def get(self, job_id: str) -> IndexJob | None:
        """A job submitted here (recent ones only), or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def ahead(self, job: IndexJob) -> int:
        """How many jobs will run before ``job`` (0 once it runs)."""
        if job.state.phase != "queued":
            return 0
        with self._lock:
            return sum(1 for j in self._jobs.values() if j.seq < job.seq and not j.finished)

    def _forget_old(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.finished]
        for key in finished[: max(0, len(self._jobs) - KEEP_JOBS)]:
            del self._jobs[key]

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._runner = None
                    return
                job = self._queue.popleft()
            self._execute(job)

    def _execute(self, job: IndexJob) -> None:
        job.change(prog.started, self.clock())

        def report(stage: str, done: int, total: int) -> None:
            job.change(prog.advanced, stage, done, total, self.clock())
            if job.on_progress is not None:
                job.on_progress(stage, done, total)

        try:
            built, kept = commit_uploads(self._update, job.saved, report)
        except BaseException as exc:  # noqa: BLE001 - recorded, raised by job.result()
            job.end(None, [], exc, self.clock())
        else:
            job.end(built, kept, None, self.clock())

    def _update(self, paths: list[Path], progress: Progress | None) -> BuildReport:
        """Index ``paths`` into the engine's index, in a worker process when it can."""
        engine = self.engine
        if self.in_process or small(paths, engine.config.limits.inline_upload_kb * 1024):
            return engine.update(paths, progress=progress)
        threads = worker_threads(engine.config.limits.index_threads)
        config = replace(engine.config, embed_threads=threads)
        encoder = worker_embedder(engine.embedder, threads)
        return engine.update_elsewhere(lambda: run_worker(config, encoder, paths, progress))


def small(paths: Sequence[Path], limit: int) -> bool:
    """Whether ``paths`` together are at most ``limit`` bytes (0: never small)."""
    if limit <= 0:
        return False
    total = 0
    for p in paths:
        with contextlib.suppress(OSError):
            total += p.stat().st_size
    return total <= limit


def worker_embedder(embedder: Any, threads: int) -> Any:
    """What the worker embeds with: the same real model on ``threads`` threads (loaded anew
    there), any other embedder (a test fake) as it is; it must pickle."""
    from index.embedder import Embedder

    return embedder.with_threads(threads) if isinstance(embedder, Embedder) else embedder


def run_worker(config: Config, embedder: Any, paths: Sequence[Path],
               progress: Progress | None = None) -> BuildReport:
    """``QAEngine(config).update(paths)`` in a new worker process (``spawn``, lower priority);
    its progress reports are passed to ``progress`` here. Raises the worker's error, or
    :class:`IndexJobError` when it stopped without a result."""
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    worker = ctx.Process(target=_work, args=(send, config, embedder, [str(p) for p in paths]),
                         name="hoidap-index-worker", daemon=True)
    worker.start()
    send.close()
    outcome = None
    try:
        outcome = _follow(receive, worker, progress)
    finally:
        receive.close()
        worker.join(5)
        if worker.is_alive():
            worker.kill()
            worker.join()
    if outcome is None:
        raise IndexJobError(f"the indexing worker stopped without a result (exit code "
                            f"{worker.exitcode}); nothing was changed, see the server log")
    kind, value = outcome
    if kind == "error":
        raise value
    return value


def _follow(receive: Any, worker: Any, progress: Progress | None) -> tuple[str, Any] | None:
    """Pass the worker's progress reports on until it sends its outcome or goes away."""
    while True:
        if not receive.poll(POLL_S):
            if worker.is_alive():
                continue
            if not receive.poll(0):
                return None
        try:
            message = receive.recv()
        except EOFError:
            return None
        if message[0] == "progress":
            if progress is not None:
                progress(*message[1:])
        else:
            return message[0], message[1]


def _work(send: Any, config: Config, embedder: Any, paths: list[str]) -> None:
    """The worker process: lower priority, then one engine update, reporting as it goes."""
    with contextlib.suppress(OSError):
        os.nice(NICE)
    try:
        from qa.engine import QAEngine

        engine = QAEngine(config, embedder=embedder)
        report = engine.update([Path(p) for p in paths],
                               progress=lambda *a: send.send(("progress", *a)))
        send.send(("done", report))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the web process
        send.send(("error", portable(exc)))
    finally:
        send.close()


def portable(exc: BaseException) -> HoidapError:
    """``exc`` as it can cross to another process: a library error as it is (when it
    pickles), anything else as an :class:`IndexJobError` naming it."""
    if isinstance(exc, HoidapError):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # noqa: BLE001 - an error that does not pickle is described
            pass
    return IndexJobError(f"indexing failed: {type(exc).__name__}: {exc}; nothing was changed")
