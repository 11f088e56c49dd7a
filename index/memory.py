"""Keeping a long build's memory flat on glibc: a fixed mmap threshold (large buffers are
mapped and unmapped, not left in the heap, where glibc's default moving threshold puts them
after the first one is freed) and trimming the heap after each batch. No-ops elsewhere."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024  # glibc's default, kept fixed


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


@functools.cache
def bound_heap() -> bool:
    """Fix the mmap threshold for this process (once); True where it could be set."""
    libc = _libc()
    return bool(libc and libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def trim() -> None:
    """Give freed heap memory back to the system."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
