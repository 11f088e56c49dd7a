"""Read and clean files in a separate worker process, with a time and memory limit per file.

A hostile or broken file (a parser that loops, a zip bomb, a crash inside lxml) can then
only cost its own time limit: the worker is killed, the file is reported with the reason,
and a fresh worker takes the next file. The build itself never hangs or aborts.

Protocol: one JSON line per request on the worker's stdin (``{"path": …}``) and one JSON
line per reply on its stdout (``{"doc": {…}}`` or ``{"error": "…"}``).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from dataclasses import asdict
from pathlib import Path

from hoidap.config import LimitsConfig
from hoidap.errors import HoidapError, LoadError
from index.types import Document

READY_TIMEOUT_S = 120.0  # starting Python under heavy load can be slow; not a file's fault
_MB = 1024 * 1024
_WORKER_FIELDS = ("max_file_mb", "max_doc_chars", "parse_timeout_s", "parse_memory_mb")


def size_problem(path: Path, limits: LimitsConfig) -> str | None:
    """Why ``path`` is too big to index, or None (checked before reading a byte)."""
    try:
        size = path.stat().st_size
    except OSError:
        return None  # the loader reports missing files with its own message
    if limits.max_file_mb and size > limits.max_file_mb * _MB:
        return (f"{path.name}: file is {size / _MB:.1f} MB, the limit is "
                f"{limits.max_file_mb:g} MB (HOIDAP_MAX_FILE_MB); split it or raise the limit")
    return None


def load_checked(path: Path, limits: LimitsConfig) -> Document:
    """Read, check the text size, clean; raises :class:`LoadError` with the reason."""
    from index.clean import make_document, safe_doc_id
    from index.loaders import read_text

    too_big = size_problem(path, limits)
    if too_big:
        raise LoadError(too_big)
    try:
        raw = read_text(path).encode("utf-8", "replace").decode("utf-8")  # no lone surrogates
        if limits.max_doc_chars and len(raw) > limits.max_doc_chars:
            raise LoadError(f"{path.name}: {len(raw):,} characters of text, the limit is "
                            f"{limits.max_doc_chars:,} (HOIDAP_MAX_DOC_CHARS); split it")
        return make_document(safe_doc_id(path.stem), str(path), raw)
    except HoidapError:
        raise
    except MemoryError:
        raise LoadError(f"{path.name}: reading needs more than {limits.parse_memory_mb} MB "
                        "(HOIDAP_PARSE_MEMORY_MB)") from None
    except Exception as exc:  # a parser bug on a strange file: report it, go on
        raise LoadError(f"{path.name}: cannot be read ({type(exc).__name__}: {exc})") from exc


class ParseWorker:
    """A child process that turns paths into :class:`Document` s, one at a time."""

    def __init__(self, limits: LimitsConfig) -> None:
        self.limits = limits
        self._proc: subprocess.Popen[bytes] | None = None
        self._replies: queue.Queue[bytes] = queue.Queue()

    def __enter__(self) -> ParseWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        settings = {k: v for k, v in asdict(self.limits).items() if k in _WORKER_FIELDS}
        proc = subprocess.Popen(
            [sys.executable, "-m", "index.parse_worker", json.dumps(settings)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
        replies: queue.Queue[bytes] = queue.Queue()
        threading.Thread(target=_pump, args=(proc, replies), daemon=True).start()
        self._proc, self._replies = proc, replies
        if self._next(READY_TIMEOUT_S) != {"ready": True}:
            self.close()
            raise LoadError("the file-reading worker did not start; check the Python install")
        return proc

    def _next(self, timeout: float) -> dict | None:
        """The next reply, or None on timeout or when the worker died."""
        try:
            line = self._replies.get(timeout=timeout)
        except queue.Empty:
            return None
        return json.loads(line) if line else None

    def load(self, path: Path) -> Document:
        """The cleaned document of ``path``; :class:`LoadError` with a reason otherwise."""
        too_big = size_problem(path, self.limits)
        if too_big:
            raise LoadError(too_big)
        proc = self._proc if self._proc and self._proc.poll() is None else self._start()
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"path": str(path)}).encode() + b"\n")
        proc.stdin.flush()
        reply = self._next(self.limits.parse_timeout_s or None)
        if reply is None:
            code = proc.poll()
            self.close()
            if code is None:
                raise LoadError(f"{path.name}: reading took longer than "
                                f"{self.limits.parse_timeout_s:g} s (HOIDAP_PARSE_TIMEOUT); "
                                "the file may be damaged or too complex")
            raise LoadError(f"{path.name}: the reader crashed on this file (exit code {code}); "
                            "the file may be damaged")
        if "error" in reply:
            raise LoadError(reply["error"])
        return Document(**reply["doc"])

    def close(self) -> None:
        """Stop the worker (killed: it may be stuck in a parser)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream:
                    stream.close()
            self._proc = None


def _pump(proc: subprocess.Popen[bytes], replies: queue.Queue[bytes]) -> None:
    """Forward the worker's reply lines; an empty item marks its end."""
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            replies.put(line)
    except (OSError, ValueError):
        pass
    replies.put(b"")


def _limit_memory(megabytes: int) -> None:
    try:
        import resource
    except ImportError:  # not on this OS
        return
    if megabytes > 0:
        limit = megabytes * _MB
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _serve(limits: LimitsConfig) -> None:
    _limit_memory(limits.parse_memory_mb)
    out = sys.stdout.buffer
    out.write(b'{"ready": true}\n')
    out.flush()
    for line in sys.stdin.buffer:
        path = Path(json.loads(line)["path"])
        try:
            reply = {"doc": asdict(load_checked(path, limits))}
        except HoidapError as exc:
            reply = {"error": str(exc)}
        out.write(json.dumps(reply, ensure_ascii=False).encode("utf-8", "replace") + b"\n")
        out.flush()


if __name__ == "__main__":
    _serve(LimitsConfig(**json.loads(sys.argv[1])))
