"""The shared data folder for tests: missing files fail loudly (CI puts ../shared beside the
clone), they never skip."""

from __future__ import annotations

from pathlib import Path

import pytest

from hoidap.config import shared_dir


def shared_file(rel: str) -> Path:
    """``<shared>/rel``; fails the test when it is not there."""
    path = shared_dir() / rel
    if not path.is_file():
        pytest.fail(f"shared file missing: {path} (CI puts ../shared beside the clone; "
                    "set HOIDAP_SHARED to its folder)")
    return path
