"""WCAG contrast of text as the browser paints it, from computed CSS colours.

Used by the browser test of dark mode; pure functions, unit-tested in tests/test_page.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

RGBA = tuple[float, float, float, float]


def parse_color(css: str) -> RGBA:
    """``rgb(1, 2, 3)`` / ``rgba(1, 2, 3, 0.5)`` (as ``getComputedStyle`` gives) → RGBA."""
    m = re.fullmatch(r"rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+))?\s*\)",
                     css.strip())
    if not m:
        raise ValueError(f"not an rgb()/rgba() colour: {css!r}")
    r, g, b = (float(x) for x in m.groups()[:3])
    return r, g, b, float(m[4]) if m[4] is not None else 1.0


def blend(top: RGBA, under: RGBA, alpha: float | None = None) -> RGBA:
    """``top`` painted over the opaque ``under`` with ``alpha`` (default: top's own)."""
    a = top[3] if alpha is None else alpha * top[3]
    return (*(a * t + (1 - a) * u for t, u in zip(top[:3], under[:3], strict=True)), 1.0)


def luminance(c: RGBA) -> float:
    """WCAG relative luminance of an opaque colour."""
    def channel(v: float) -> float:
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(v) for v in c[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(fg: RGBA, bg: RGBA) -> float:
    """WCAG contrast ratio (1–21) of two opaque colours."""
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def painted_contrast(color: str, layers: Sequence[tuple[str, float]]) -> float:
    """Contrast of text of computed ``color`` whose element and ancestors, innermost first,
    have ``layers`` = (computed background-color, opacity): each background is composited
    over the ones behind it and each opacity fades text and background into its backdrop."""
    backs = [parse_color(bg) for bg, _ in layers] + [(255.0, 255.0, 255.0, 1.0)]

    def behind(i: int) -> RGBA:  # the opaque colour painted beneath layer i and above
        out = backs[-1]
        for c in reversed(backs[i:-1]):
            out = blend(c, out)
        return out

    fg, bg = parse_color(color), behind(0)
    fg = blend(fg, bg)
    for i, (_, opacity) in enumerate(layers):
        if opacity < 1:
            under = behind(i + 1)
            fg, bg = blend(fg, under, opacity), blend(bg, under, opacity)
    return contrast_ratio(fg, bg)
