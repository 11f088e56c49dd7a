"""The CLI turns library errors into one-line messages and exit code 2."""

from __future__ import annotations

import json

import pytest

from hoidap.cli import main
from tests.fakes import HashEmbedder


def run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_missing_index(capsys, tmp_path):
    rc, _, err = run(capsys, "search", "hộ nghèo", "--index", str(tmp_path / "none"))
    assert rc == 2 and "hoidap index build" in err and "Traceback" not in err


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001, "a\x07b"])
def test_bad_question(capsys, tmp_path, question):
    rc, _, err = run(capsys, "ask", question, "--index", str(tmp_path))
    assert rc == 2 and err.startswith("hoidap: error:")


def test_empty_corpus_and_missing_paths(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    rc, _, err = run(capsys, "index", "build", str(empty), str(tmp_path / "missing"),
                     "--index", str(tmp_path / "idx"))
    assert rc == 2 and "nothing to index" in err and "missing" in err


def test_bad_option_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["search"])
    assert exc.value.code == 2


@pytest.fixture
def built(tmp_path, monkeypatch):
    """An index built through the CLI, with the fake embedder in place of the model."""
    import index.embedder

    monkeypatch.setattr(index.embedder, "Embedder", lambda config: HashEmbedder())
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Báo cáo huyện\n\nTỷ lệ hộ nghèo của huyện còn 1,29%.",
                                encoding="utf-8")
    (docs / "bad.txt").write_bytes(b"\x00\x01\x02" * 100)
    return docs, tmp_path / "idx"


def test_build_search_show_remove(capsys, built):
    docs, idx = built
    rc, out, err = run(capsys, "index", "build", str(docs), "--index", str(idx), "--json")
    report = json.loads(out)
    assert rc == 0 and report["added"] == ["a"] and report["failed"][0]["path"].endswith("bad.txt")
    rc, out, _ = run(capsys, "search", "ho ngheo", "--index", str(idx), "--json")
    assert rc == 0 and json.loads(out)["passages"][0]["doc_id"] == "a"
    rc, out, _ = run(capsys, "show", "a", "--index", str(idx), "--json")
    assert json.loads(out)["text"].endswith("1,29%.")
    rc, _, err = run(capsys, "show", "zzz", "--index", str(idx))
    assert rc == 2 and "zzz" in err
    rc, out, _ = run(capsys, "index", "build", "--remove", "a", "--index", str(idx), "--json")
    assert rc == 0 and json.loads(out)["removed"] == ["a"]
    rc, out, _ = run(capsys, "show", "--list", "--index", str(idx), "--json")
    assert json.loads(out) == []


def test_ask_json_has_confidence_and_vague(capsys, built):
    docs, idx = built
    run(capsys, "index", "build", str(docs), "--index", str(idx))
    rc, out, _ = run(capsys, "ask", "Tỷ lệ hộ nghèo của huyện là bao nhiêu?", "--index",
                     str(idx), "--json")
    best = json.loads(out)["answers"][0]
    assert rc == 0 and best["text"] == "1,29%"
    assert 0 <= best["confidence"] <= 1 and best["confidence_level"] in {"high", "medium", "low"}
    rc, out, _ = run(capsys, "ask", "Bao nhieu?", "--index", str(idx), "--json")
    assert rc == 0 and json.loads(out)["vague"] is True
    rc, out, _ = run(capsys, "ask", "Bao nhiêu?", "--index", str(idx))
    assert rc == 0 and out.startswith("Câu hỏi chưa rõ")


def test_questions_file_errors(capsys, built, tmp_path):
    docs, idx = built
    run(capsys, "index", "build", str(docs), "--index", str(idx))
    bad = tmp_path / "q.jsonl"
    bad.write_text('{"question": "hộ nghèo?"}\nnot json\n', encoding="utf-8")
    rc, _, err = run(capsys, "ask", "--questions", str(bad), "--index", str(idx), "--json")
    assert rc == 2 and "line 2" in err


def test_index_info_names_the_vector_index(capsys, built):
    docs, idx = built
    run(capsys, "index", "build", str(docs), "--index", str(idx))
    rc, out, _ = run(capsys, "index", "info", "--index", str(idx))
    assert rc == 0 and "1 documents" in out and out.rstrip().endswith("vectors exact (flat)")
    assert "in 1 segments (0 deleted chunks" in out
    rc, out, _ = run(capsys, "index", "info", "--index", str(idx), "--json")
    assert json.loads(out)["dense"] == {"kind": "flat"}
