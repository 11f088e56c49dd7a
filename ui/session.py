"""The conversation as kept in the browser (``gr.BrowserState``), so a reload brings it back.

What is stored: the chat messages as shown (role + HTML) and the raw turns follow-up
questions are read with. What comes back from the browser is checked: anything malformed
restores an empty conversation rather than an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from hoidap.errors import HoidapError
from qa.conversation import MAX_TURNS, Turn, parse_history

__all__ = ["MAX_MESSAGES", "STORAGE_KEY", "message_text", "restored", "saved"]

STORAGE_KEY = "hoidap-hoi-thoai"
MAX_MESSAGES = 200  # messages kept in the browser (100 questions and their replies)
ROLES = ("user", "assistant")


def message_text(content: Any) -> str | None:
    """A chat message's content as one string: Gradio gives either the string or a list
    of parts (``{"type": "text", "text": …}``); None for anything else (files, components)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and all(
            isinstance(p, dict) and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    return None


def _messages(items: Any) -> list[dict[str, str]] | None:
    """The latest messages as role + text; None when ``items`` is not a list of them."""
    if not isinstance(items, list):
        return None
    out = []
    for m in items:
        text = message_text(m.get("content")) if isinstance(m, dict) else None
        if text is None or m.get("role") not in ROLES:
            return None
        out.append({"role": m["role"], "content": text})
    return out[-MAX_MESSAGES:]


def saved(messages: Sequence[Any], turns: Sequence[Turn]) -> dict[str, list]:
    """The JSON value to store for this conversation (the latest messages and turns)."""
    return {"messages": _messages(list(messages)) or [],
            "turns": [asdict(t) for t in turns][-MAX_TURNS:]}


def restored(value: Any) -> tuple[list[dict[str, str]], list[Turn]]:
    """(messages, turns) from a stored value; empty when it is missing or malformed (bad
    messages too: turns without the messages they belong to are not brought back)."""
    if not isinstance(value, dict) or not isinstance(value.get("turns", []), list):
        return [], []
    messages = _messages(value.get("messages", []))
    if messages is None:
        return [], []
    try:
        turns = list(parse_history(value.get("turns", [])[-MAX_TURNS:]))
    except HoidapError:
        return [], []
    return messages, turns
