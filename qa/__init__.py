"""Answers from a saved index: retrieve, fuse, read, cite.

    from qa import QAEngine
    engine = QAEngine()            # default index under $HOIDAP_HOME
    result = engine.ask("Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?")
    print(result.to_dict())
"""

from __future__ import annotations

from typing import Any

from qa.types import Answer, Citation, Filters, Passage, QAResult

__all__ = ["QAEngine", "Answer", "Citation", "Filters", "Passage", "QAResult"]


def __getattr__(name: str) -> Any:
    """Import the engine on first use so ``import qa`` stays light."""
    if name == "QAEngine":
        from qa.engine import QAEngine

        return QAEngine
    raise AttributeError(f"module 'qa' has no attribute {name!r}")
