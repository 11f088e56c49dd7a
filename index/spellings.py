"""Per segment, how the corpus spells each folded syllable and pair: the table diacritics are
restored from (``index.restore``), kept on disk and looked up key by key.

A segment holds hundreds of thousands of keys; loading them as Python dicts for every segment
would cost more memory than the vectors. So the keys are a sorted, memory-mapped ``S`` array
(``spellings.keys.npy``), and each key's ``[spelling, count, ...]`` (the top ``MAX_SPELLINGS``,
most frequent first, ties in order of first use) is one JSON line of ``spellings.jsonl``, found
through ``spellings.offsets.npy``. A query reads a few dozen lines. Merging segments streams
their sorted keys (memory does not grow with the table).
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from index.text import fold, token_spans

MAX_SPELLINGS = 3
FILES = ("spellings.keys.npy", "spellings.offsets.npy", "spellings.jsonl")


def count_spellings(texts: Iterable[str]) -> tuple[dict[str, dict[str, int]], int]:
    """folded gram (with a letter) -> spelling -> count, and the syllables seen."""
    counts: dict[str, dict[str, int]] = {}
    seen = 0
    for text in texts:
        toks = [t for t, _, _ in token_spans(text)]
        seen += len(toks)
        for gram in [*toks, *(f"{a} {b}" for a, b in zip(toks, toks[1:], strict=False))]:
            key = fold(gram)
            if any(ch.isalpha() for ch in key):
                inner = counts.setdefault(key, {})
                inner[gram] = inner.get(gram, 0) + 1
    return counts, seen


def top(spellings: dict[str, int]) -> list:
    """``[spelling, count, ...]``: the most frequent first, equal counts in insertion order."""
    best = sorted(spellings.items(), key=lambda kv: -kv[1])[:MAX_SPELLINGS]
    return [x for pair in best for x in pair]


def write_spellings(folder: Path, rows: Iterable[tuple[str, list]]) -> None:
    """Write ``(key, [spelling, count, ...])`` rows, sorted by key (UTF-8 bytes)."""
    keys: list[bytes] = []
    offsets = [0]
    with (folder / "spellings.jsonl").open("wb") as f:
        for key, flat in rows:
            line = (json.dumps(flat, ensure_ascii=False) + "\n").encode("utf-8")
            f.write(line)
            keys.append(key.encode("utf-8"))
            offsets.append(offsets[-1] + len(line))
    np.save(folder / "spellings.keys.npy", np.asarray(keys, dtype=bytes) if keys
            else np.zeros(0, "S1"), allow_pickle=False)
    np.save(folder / "spellings.offsets.npy", np.asarray(offsets, np.int64), allow_pickle=False)


def table_rows(counts: dict[str, dict[str, int]]) -> Iterator[tuple[str, list]]:
    """:func:`count_spellings`' counts as sorted rows for :func:`write_spellings`."""
    for key in sorted(counts, key=lambda k: k.encode("utf-8")):
        yield key, top(counts[key])


class Spellings:
    """One segment's spelling table, read from disk key by key."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.keys = np.load(folder / "spellings.keys.npy", mmap_mode="r", allow_pickle=False)
        self.offsets = np.load(folder / "spellings.offsets.npy", mmap_mode="r",
                               allow_pickle=False)
        if len(self.offsets) != len(self.keys) + 1:
            raise ValueError(f"spelling table in {folder} is inconsistent")
        self._file = None

    def __len__(self) -> int:
        return len(self.keys)

    def check(self) -> None:
        """Raise ValueError unless the lines file matches the offsets (last line readable)."""
        size = (self.folder / "spellings.jsonl").stat().st_size
        if size != int(self.offsets[-1]) or (len(self.keys) and not isinstance(
                self._line(len(self.keys) - 1), list)):
            raise ValueError(f"spelling table in {self.folder} is damaged")

    def _line(self, i: int) -> list:
        if self._file is None:
            self._file = (self.folder / "spellings.jsonl").open("rb")
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        self._file.seek(a)
        return json.loads(self._file.read(b - a).decode("utf-8"))

    def get(self, key: str) -> list | None:
        """``[spelling, count, ...]`` of ``key``, or None."""
        raw = key.encode("utf-8")
        if not len(self.keys) or len(raw) > self.keys.dtype.itemsize:
            return None
        i = int(np.searchsorted(self.keys, raw))
        return self._line(i) if i < len(self.keys) and self.keys[i] == raw else None

    def rows(self) -> Iterator[tuple[str, list]]:
        """Every ``(key, [spelling, count, ...])`` in key order (streamed)."""
        with (self.folder / "spellings.jsonl").open("rb") as f:
            for key, line in zip(self.keys, f, strict=True):
                yield key.decode("utf-8"), json.loads(line)


def add_up(flats: Iterable[list]) -> list:
    """Several ``[spelling, count, ...]`` of one key added up (first seen first)."""
    total: dict[str, int] = {}
    for flat in flats:
        for spelling, n in zip(flat[::2], flat[1::2], strict=True):
            total[spelling] = total.get(spelling, 0) + n
    return top(total)


def merged_rows(parts: Sequence[Spellings]) -> Iterator[tuple[str, list]]:
    """The rows of several tables merged key by key, in key order (segment order kept for
    ties)."""
    streams = [((k.encode("utf-8"), i, k, v) for k, v in p.rows()) for i, p in enumerate(parts)]
    current: bytes | None = None
    key, flats = "", []
    for raw, _, k, v in heapq.merge(*streams):
        if raw != current:
            if current is not None:
                yield key, add_up(flats)
            current, key, flats = raw, k, []
        flats.append(v)
    if current is not None:
        yield key, add_up(flats)
