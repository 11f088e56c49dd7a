"""Chunk invariants: exact text, coverage, bounded length, paragraph numbers, ids, overlap."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hoidap.config import ChunkingConfig
from hoidap.errors import InputError
from index.chunking import chunk_document, chunk_id, embedding_text, text_units
from index.types import Chunk, Document
from tests.shared import shared_file

ROOT = Path(__file__).resolve().parents[1]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
XQUAD = "data/xquad.vi.json"
CFG = ChunkingConfig()


def make_doc(text: str, title: str = "Báo cáo", date: str | None = None) -> Document:
    text = unicodedata.normalize("NFC", text)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Document(digest[:12], title, date, f"mem://{digest[:8]}", text, digest)


def load_seed(path: Path) -> Document:
    """The seed through the cleaner when it exists, else its NFC text as is."""
    try:
        from index.clean import load_document
    except ImportError:
        text = path.read_text(encoding="utf-8")
        return make_doc(text, title=text.strip().split("\n")[0])
    return load_document(path)


def paragraph_of(text: str, pos: int) -> int:
    """1-based number of the non-blank line holding ``pos`` (computed independently)."""
    return sum(1 for line in text[:pos].split("\n")[:-1] if line.strip()) + 1


def check_invariants(doc: Document, chunks: list[Chunk], cfg: ChunkingConfig) -> int:
    """Assert every chunk invariant; return how many consecutive pairs overlap."""
    text = doc.text
    covered = [False] * len(text)
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text == chunk.text.strip() and chunk.text
        assert chunk.end - chunk.start <= cfg.max_chars
        assert chunk.doc_id == doc.doc_id
        assert chunk.paragraph == paragraph_of(text, chunk.start)
        assert chunk.chunk_id == chunk_id(doc.source, chunk.start, chunk.end, chunk.text)
        covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
    missing = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missing, f"uncovered text at {missing[:5]}"
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    return check_overlap(doc, chunks, cfg)


def check_overlap(doc: Document, chunks: list[Chunk], cfg: ChunkingConfig) -> int:
    """Consecutive chunks of one paragraph overlap by whole units unless that cannot fit."""
    units = text_units(doc.text, cfg.max_chars)
    starts = {u.start: u for u in units}
    ends = {u.end: u for u in units}
    overlaps = 0
    for prev, nxt in pairwise(chunks):
        assert prev.start < nxt.start and prev.end < nxt.end
        assert nxt.start in starts and prev.end in ends
        if nxt.start < prev.end:
            overlaps += 1
        elif cfg.overlap_sentences and "\n" not in doc.text[prev.end : nxt.start]:
            last, first_new = ends[prev.end], starts[nxt.start]
            assert first_new.end - last.start > cfg.max_chars, "overlap was possible"
    return overlaps


def xquad_contexts(count: int = 50) -> list[str]:
    data = json.loads(shared_file(XQUAD).read_text(encoding="utf-8"))
    contexts = {p["context"] for a in data["data"] for p in a["paragraphs"]}
    return sorted(contexts, key=lambda c: (-len(c), c))[:count]  # the longest: most chunks


# ---------------------------------------------------------------- seeds and XQuAD


@pytest.mark.parametrize("path", SEEDS, ids=[p.stem for p in SEEDS])
def test_seed_invariants(path: Path) -> None:
    doc = load_seed(path)
    chunks = chunk_document(doc, CFG)
    assert len(chunks) >= 2
    check_invariants(doc, chunks, CFG)
    assert chunk_document(doc, CFG) == chunks  # deterministic


def test_seeds_have_overlap() -> None:
    overlaps = 0
    for path in SEEDS:
        doc = load_seed(path)
        overlaps += check_invariants(doc, chunk_document(doc, CFG), CFG)
    assert overlaps > 0


def test_xquad_contexts_invariants() -> None:
    small = replace(CFG, max_chars=400, min_chars=100)
    overlaps = 0
    for number, context in enumerate(xquad_contexts()):
        doc = make_doc(context, title=f"XQuAD {number}")
        for cfg in (CFG, small):
            chunks = chunk_document(doc, cfg)
            assert chunks
            overlaps += check_invariants(doc, chunks, cfg)
    assert overlaps > 0


# ---------------------------------------------------------------- targeted behaviour


SHORT = "Câu số {n} ở xã Hòa An đạt 3,5% kế hoạch."


def paragraph(count: int, first: int = 0) -> str:
    return " ".join(SHORT.format(n=n) for n in range(first, first + count))


def test_overlap_repeats_last_sentence_of_previous_chunk() -> None:
    doc = make_doc(paragraph(12))
    cfg = ChunkingConfig(max_chars=150, overlap_sentences=1, min_chars=50)
    chunks = chunk_document(doc, cfg)
    assert len(chunks) >= 4
    check_invariants(doc, chunks, cfg)
    for prev, nxt in pairwise(chunks):
        last_sentence = prev.text[prev.text.rindex("Câu số") :]
        assert nxt.text.startswith(last_sentence)
        assert nxt.start == prev.end - len(last_sentence)


def test_two_sentence_overlap_and_no_overlap() -> None:
    doc = make_doc(paragraph(12))
    two = chunk_document(doc, ChunkingConfig(max_chars=200, overlap_sentences=2, min_chars=50))
    for prev, nxt in pairwise(two):
        assert prev.text.count("Câu số") >= 3
        assert doc.text[nxt.start : prev.end].count("Câu số") == 2
    none = chunk_document(doc, ChunkingConfig(max_chars=200, overlap_sentences=0, min_chars=50))
    for prev, nxt in pairwise(none):
        assert prev.end < nxt.start
    assert len(none) < len(two)


def test_long_paragraphs_are_not_crossed() -> None:
    doc = make_doc(paragraph(6) + "\n\n" + paragraph(6, 6) + "\n\n" + paragraph(6, 12))
    chunks = chunk_document(doc, CFG)
    assert [c.paragraph for c in chunks] == [1, 2, 3]
    assert all("\n" not in c.text for c in chunks)
    check_invariants(doc, chunks, CFG)


def test_short_paragraphs_merge_forward_and_tiny_tail_merges_back() -> None:
    text = "Tiêu đề ngắn\n\nẢnh: Quang cảnh hội nghị.\n\n" + paragraph(6) + "\n\nPV\n"
    doc = make_doc(text)
    chunks = chunk_document(doc, CFG)
    assert len(chunks) == 1
    assert chunks[0].paragraph == 1
    assert chunks[0].text == text.strip()


def test_tiny_paragraph_between_long_ones_joins_the_next() -> None:
    text = paragraph(6) + "\n\nẢnh: Quang cảnh.\n\n" + paragraph(6, 6)
    chunks = chunk_document(make_doc(text), CFG)
    assert [c.paragraph for c in chunks] == [1, 2]
    assert chunks[1].text.startswith("Ảnh: Quang cảnh.\n\nCâu số 6")


def test_long_sentence_is_cut_between_words() -> None:
    words = " ".join(f"xã{n} đạt 3,5%;" if n % 7 == 0 else f"từ{n}" for n in range(900))
    doc = make_doc(f"Mở đầu. {words} kết thúc. Hết.")
    cfg = ChunkingConfig(max_chars=300, overlap_sentences=1, min_chars=100)
    chunks = chunk_document(doc, cfg)
    assert len(chunks) > 10
    check_invariants(doc, chunks, cfg)
    for chunk in chunks:
        before = doc.text[chunk.start - 1 : chunk.start]
        after = doc.text[chunk.end : chunk.end + 1]
        assert before in ("", " ") and after in ("", " ")
    assert sum(c.text.endswith(";") for c in chunks) > len(chunks) // 2  # clause cuts


def test_word_longer_than_max_chars_is_cut_hard() -> None:
    doc = make_doc("Đường dẫn: " + "ă" * 1000 + " ở cuối.")
    cfg = ChunkingConfig(max_chars=90, overlap_sentences=1, min_chars=10)
    check_invariants(doc, chunk_document(doc, cfg), cfg)


def test_blank_document_has_no_chunks() -> None:
    assert chunk_document(make_doc(" \n\n \n"), CFG) == []


@pytest.mark.parametrize(
    ("field", "value"), [("max_chars", 0), ("overlap_sentences", -1), ("min_chars", -5)]
)
def test_bad_config_is_rejected(field: str, value: int) -> None:
    with pytest.raises(InputError, match=field):
        chunk_document(make_doc("Một câu."), replace(CFG, **{field: value}))


def test_chunk_id_is_deterministic_and_sensitive() -> None:
    base = chunk_id("a.txt", 0, 5, "Hà Nội")
    assert len(base) == 16 and int(base, 16) >= 0
    assert chunk_id("a.txt", 0, 5, "Hà Nội") == base
    others = {
        chunk_id("b.txt", 0, 5, "Hà Nội"),
        chunk_id("a.txt", 1, 5, "Hà Nội"),
        chunk_id("a.txt", 0, 6, "Hà Nội"),
        chunk_id("a.txt", 0, 5, "Hà nội"),
    }
    assert base not in others and len(others) == 4


def test_nfd_document_chunks_match_its_nfc_form() -> None:
    nfd = unicodedata.normalize("NFD", paragraph(8))
    doc = make_doc(nfd)  # make_doc normalises, as ingestion does
    chunks = chunk_document(doc, ChunkingConfig(max_chars=120, min_chars=20))
    assert all(unicodedata.is_normalized("NFC", c.text) for c in chunks)


# ---------------------------------------------------------------- embedding text


def test_embedding_text_prefixes_the_title_not_the_date() -> None:
    doc = make_doc(
        "Tiêu đề\n\nỞ huyện Cao Lộc có 80/80 chi bộ.", title="Tiêu đề", date="2020-11-05"
    )
    chunk = chunk_document(doc, ChunkingConfig(max_chars=40, min_chars=0))[-1]
    assert chunk.text == "Ở huyện Cao Lộc có 80/80 chi bộ."
    assert embedding_text(doc, chunk) == "Tiêu đề\nỞ huyện Cao Lộc có 80/80 chi bộ."
    redated = replace(doc, date="2021-01-01", date_source="user")
    assert embedding_text(redated, chunk) == embedding_text(doc, chunk)  # no re-embedding


def test_embedding_text_does_not_repeat_a_leading_title() -> None:
    doc = make_doc("Tiêu đề  bài\n\nỞ huyện Cao Lộc.", title="Tiêu đề bài", date="2021-01-21")
    (chunk,) = chunk_document(doc, CFG)
    assert embedding_text(doc, chunk) == chunk.text
    assert embedding_text(replace(doc, date=None), chunk) == chunk.text


# ---------------------------------------------------------------- property test


_PIECES = st.sampled_from(
    ["Ở", "xã", "3,5%", "TP.", "Hà", "Nội.", "Năm", "2020!", "ở", "…", "\n", "\n\n", " ", "a" * 40]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(_PIECES, max_size=80).map(" ".join),
    st.integers(8, 200),
    st.integers(0, 3),
    st.integers(0, 150),
)
def test_invariants_hold_for_any_text(text: str, max_chars: int, overlap: int, low: int) -> None:
    cfg = ChunkingConfig(max_chars=max_chars, overlap_sentences=overlap, min_chars=low)
    doc = make_doc(text)
    chunks = chunk_document(doc, cfg)
    check_invariants(doc, chunks, cfg)
