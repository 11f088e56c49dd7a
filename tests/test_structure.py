"""The layout stays true: imports point one way and no library file grows past 400 lines.

* no import cycle between modules of ``index``, ``qa``, ``ui`` and ``hoidap`` (lazy imports
  inside functions count too);
* ``index`` (ingest) never imports ``qa`` (answering) or ``ui`` (web), ``qa`` never ``ui``;
* library code (``index``, ``qa``, ``ui``) never imports the CLI (``hoidap.cli*``, the
  subcommand modules);
* across packages only public names are imported;
* no Python file of those packages has more than ``MAX_LINES`` lines.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("index", "qa", "ui", "hoidap")
LIBRARY = ("index", "qa", "ui")
CLI = ("hoidap.cli", "hoidap.cliutil", "hoidap.evalcli", "hoidap.servecli", "hoidap.repl")
FORBIDDEN = {"index": ("qa", "ui"), "qa": ("ui",)}  # package -> packages it must not import
MAX_LINES = 400
# Known and owned elsewhere: qa/neural.py belongs to the reader issue (touched here only for
# moved imports); its ONNX half imports it back.
KNOWN_CYCLES = [frozenset({"qa.neural", "qa.neural_onnx"})]
KNOWN_LONG = {"qa/neural.py"}


def modules() -> dict[str, Path]:
    """Module name -> file, for every module of the packages."""
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports(path: Path, known: dict[str, Path]) -> Iterator[tuple[str, str]]:
    """``(module, name)`` of each project import in ``path`` (``name``: the imported name for
    ``from m import name``, else "")."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, ""
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                yield (full, "") if full in known else (node.module, alias.name)


def owner(name: str, known: dict[str, Path]) -> str | None:
    """The project module ``name`` lives in (None for a third-party one)."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def graph() -> dict[str, set[str]]:
    """Module -> project modules it imports."""
    known = modules()
    return {m: {o for name, _ in imports(p, known) if (o := owner(name, known)) not in (None, m)}
            for m, p in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[frozenset[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(frozenset(group))

    for v in edges:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert [c for c in cycles(graph()) if c not in KNOWN_CYCLES] == []


def test_cycle_finder_finds_one():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [frozenset("abc")]


def test_imports_follow_the_pipeline():
    bad = [(m, o) for m, targets in graph().items() for o in targets
           if o.split(".")[0] in FORBIDDEN.get(m.split(".")[0], ())]
    assert bad == []


def test_library_never_imports_the_cli():
    bad = [(m, o) for m, targets in graph().items() if m.split(".")[0] in LIBRARY
           for o in targets if o in CLI]
    assert bad == []


def test_only_public_names_cross_packages():
    known = modules()
    bad = []
    for m, path in known.items():
        for name, attr in imports(path, known):
            target = owner(name, known)
            if target is None or target.split(".")[0] == m.split(".")[0]:
                continue
            private = [p for p in (*name.split("."), attr) if p.startswith("_")
                       and not p.startswith("__")]
            if private:
                bad.append((m, name, attr))
    assert bad == []


def test_no_file_over_the_limit():
    long = {str(p.relative_to(ROOT)): n for p in modules().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert set(long) <= KNOWN_LONG, long
