"""Find files and turn each into raw text (cleaning happens in :mod:`index.clean`).

Supported: plain text and Markdown (UTF-8, UTF-8 with BOM, UTF-16 with BOM),
HTML (article text via trafilatura), PDF with a text layer (pypdf), DOCX
(python-docx). Every failure raises :class:`LoadError` or
:class:`UnsupportedFileError` naming the file and the reason.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hoidap.errors import LoadError, UnsupportedFileError

SUPPORTED = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"})
_MARKDOWN = frozenset({".md", ".markdown"})
_MAX_CONTROL_RATIO = 0.01
_ALLOWED_CONTROLS = frozenset("\n\r\t\f")


def _is_hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _walk(folder: Path) -> tuple[list[Path], list[tuple[Path, str]]]:
    found: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for path in sorted(folder.rglob("*")):
        if _is_hidden(path, folder) or path.is_dir():
            continue
        if not path.is_file():
            skipped.append((path, "not a regular file (broken link?)"))
        elif path.suffix.lower() in SUPPORTED:
            found.append(path)
        else:
            skipped.append((path, f"unsupported file type {path.suffix or '(none)'!r}"))
    return found, skipped


def iter_files(paths: Sequence[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Supported files under ``paths`` (folders walked recursively, sorted, hidden
    entries skipped) and ``(path, reason)`` for every missing or unsupported one."""
    found: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            more, why = _walk(path)
            found += more
            skipped += why
        elif not path.exists():
            skipped.append((path, "no such file or folder"))
        elif path.suffix.lower() not in SUPPORTED:
            skipped.append((path, f"unsupported file type {path.suffix or '(none)'!r}"))
        else:
            found.append(path)
    unique = list(dict.fromkeys(found))
    return unique, skipped


def decode_text(data: bytes, name: str) -> str:
    """Decode UTF-8 (with or without BOM) or BOM-marked UTF-16; reject binary data."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif b"\x00" in data:
        raise LoadError(f"{name}: looks like a binary file (NUL bytes), not text")
    else:
        encoding = "utf-8-sig"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"{name}: not valid {encoding.upper()} text ({exc.reason} at byte {exc.start}); "
            "re-save it as UTF-8"
        ) from exc
    _reject_binary(text, name)
    return text


def _reject_binary(text: str, name: str) -> None:
    controls = sum(
        1 for c in text if unicodedata.category(c) == "Cc" and c not in _ALLOWED_CONTROLS
    )
    if "\x00" in text or controls > _MAX_CONTROL_RATIO * max(len(text), 1):
        raise LoadError(f"{name}: looks like a binary file ({controls} control characters)")


_MD_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^\s*(```|~~~).*$", re.M), ""),  # code fences
    (re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$", re.M), ""),  # horizontal rules
    (re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$", re.M), r"\1"),  # headings
    (re.compile(r"^\s{0,3}>\s?", re.M), ""),  # block quotes
    (re.compile(r"^(\s*)[-*+]\s+", re.M), r"\1"),  # bullets
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links -> link text
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *italic*
    (re.compile(r"(?<!\w)_(?=\S)(.+?)(?<=\S)_(?!\w)"), r"\1"),  # _italic_
    (re.compile(r"`([^`]*)`"), r"\1"),  # inline code
)


def strip_markdown(text: str) -> str:
    """Light Markdown removal: headings, emphasis, links, images, quotes, bullets."""
    for pattern, repl in _MD_RULES:
        text = pattern.sub(repl, text)
    return text


_DROP_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe")
_BLOCK_TAGS = frozenset(
    {"p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "br", "tr", "td", "th"}
    | {"table", "section", "article", "blockquote", "pre", "dd", "dt"}
)


def _parse_html(data: bytes) -> Any:  # an lxml HtmlElement
    import lxml.html

    try:
        return lxml.html.fromstring(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):  # not UTF-8, or an XML encoding declaration
        return lxml.html.fromstring(data)


def html_to_text(data: bytes) -> str:
    """Plain text of a page minus scripts, menus, headers and footers; blocks on own lines."""
    try:
        root = _parse_html(data)
    except Exception:  # lxml raises several unrelated types on junk
        return ""
    for el in list(root.iter(*_DROP_TAGS)):
        el.drop_tree()
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
    return root.text_content()


def read_html(path: Path) -> str:
    """Article text of an HTML page, one paragraph a line (trafilatura, then a fallback)."""
    import trafilatura

    data = path.read_bytes()
    text = trafilatura.extract(data, include_comments=False, include_tables=True) or ""
    return text if text.strip() else html_to_text(data)


def read_pdf(path: Path) -> str:
    """Text layer of a PDF, pages separated by blank lines."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(f"{path.name}: PDF is password-protected; save an unlocked copy")
        pages = [page.extract_text() or "" for page in reader.pages]
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"{path.name}: unreadable PDF ({exc})") from exc
    text = "\n\n".join(p for p in pages if p.strip())
    if not text.strip():
        raise LoadError(f"{path.name}: PDF has no text layer (scanned?); run OCR on it first")
    return text


def read_docx(path: Path) -> str:
    """Paragraphs (and table rows) of a Word document, one a line."""
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoadError(f"{path.name}: not a valid .docx file ({exc})") from exc
    lines = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text for cell in row.cells))
    return "\n\n".join(lines)


def _dispatch(path: Path, suffix: str) -> str:
    if suffix in {".html", ".htm"}:
        return read_html(path)
    if suffix == ".pdf":
        return read_pdf(path)
    if suffix == ".docx":
        return read_docx(path)
    text = decode_text(path.read_bytes(), path.name)
    return strip_markdown(text) if suffix in _MARKDOWN else text


def read_text(path: Path) -> str:
    """Raw text of one supported file; raises LoadError / UnsupportedFileError."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise UnsupportedFileError(
            f"{path.name}: unsupported file type {suffix or '(none)'!r}; "
            f"use one of {', '.join(sorted(SUPPORTED))}"
        )
    if not path.is_file():
        raise LoadError(f"{path}: no such file")
    try:
        text = _dispatch(path, suffix)
    except OSError as exc:
        raise LoadError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    if not text.strip():
        raise LoadError(f"{path.name} has no text")
    return text
