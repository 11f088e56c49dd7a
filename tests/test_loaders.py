"""Tests for index.loaders with files generated on the fly (no committed binaries)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from hoidap.errors import LoadError, UnsupportedFileError
from index.loaders import SUPPORTED, html_to_text, iter_files, read_text, strip_markdown

VI = "Tổng thu ngân sách ở huyện Cao Lộc đạt 452,2 tỷ đồng, bằng 101,63% dự toán."


def _pdf_with_text(text: str) -> bytes:
    """A one-page PDF whose Helvetica text maps non-ASCII codes back via /ToUnicode."""
    extra = sorted({c for c in text if ord(c) > 126})
    codes = {c: 0x80 + i for i, c in enumerate(extra)}
    raw = "".join(f"{codes[c]:02x}" if c in codes else f"{ord(c):02x}" for c in text)
    bfchar = "".join(f"<{codes[c]:02x}> <{ord(c):04x}>\n" for c in extra)
    cmap = (
        "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"
        "/CMapName /Custom def /CMapType 2 def\n"
        "1 begincodespacerange <00> <ff> endcodespacerange\n"
        "1 beginbfrange <20> <7e> <0020> endbfrange\n"
        f"{len(extra)} beginbfchar\n{bfchar}endbfchar\n"
        "endcmap CMapName currentdict /CMap defineresource pop end end"
    )
    content = f"BT /F1 12 Tf 20 100 Td <{raw}> Tj ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 600 200] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode 6 0 R >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        f"<< /Length {len(cmap)} >>\nstream\n{cmap}\nendstream",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{off:010d} 00000 n \n" for off in offsets).encode()
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out + trailer.encode()


def test_pdf_text_layer(tmp_path: Path) -> None:
    path = tmp_path / "bao_cao.pdf"
    path.write_bytes(_pdf_with_text(VI))
    text = read_text(path)
    assert "452,2 tỷ đồng" in text
    assert "ở huyện Cao Lộc" in text


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    path = tmp_path / "scan.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(LoadError, match=r"scan\.pdf.*no text layer"):
        read_text(path)


def test_encrypted_pdf(tmp_path: Path) -> None:
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.encrypt("bi-mat", algorithm="RC4-128")
    path = tmp_path / "khoa.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    with pytest.raises(LoadError, match=r"khoa\.pdf.*password"):
        read_text(path)


def test_corrupt_pdf(tmp_path: Path) -> None:
    path = tmp_path / "hong.pdf"
    path.write_bytes(b"%PDF-1.4\nnot really a pdf")
    with pytest.raises(LoadError, match=r"hong\.pdf"):
        read_text(path)


def test_docx_paragraphs_and_tables(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Báo cáo kinh tế – xã hội", level=1)
    document.add_paragraph(VI)
    document.add_paragraph("Người dân ở xã Tân Liên phấn khởi.")
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "Chỉ tiêu"
    table.rows[0].cells[1].text = "19/21"
    path = tmp_path / "bao_cao.docx"
    document.save(str(path))
    lines = [line for line in read_text(path).splitlines() if line.strip()]
    assert lines[:3] == ["Báo cáo kinh tế – xã hội", VI, "Người dân ở xã Tân Liên phấn khởi."]
    assert "Chỉ tiêu | 19/21" in lines


def test_corrupt_docx(tmp_path: Path) -> None:
    path = tmp_path / "hong.docx"
    path.write_bytes(b"PK\x03\x04 this is not a zip archive")
    with pytest.raises(LoadError, match=r"hong\.docx"):
        read_text(path)


HTML = """<!doctype html><html><head><meta charset="utf-8"><title>Tin</title>
<script>var menu = "Trang chủ"; trackVisitor();</script><style>p {color: red}</style></head>
<body><nav><ul><li><a href="/">Trang chủ</a></li><li><a href="/tin">Tin tức sự kiện</a></li>
<li><a href="/lh">Liên hệ góp ý</a></li></ul></nav>
<article><h1>Huyện Cao Lộc hoàn thành mục tiêu kép</h1>
<p>VI_TEXT</p>
<p>Người dân ở xã Tân Liên phấn khởi khi xã đạt chuẩn nông thôn mới vào cuối năm 2020,
sau nhiều năm nỗ lực của cấp ủy, chính quyền và Nhân dân.</p></article>
<footer>Bản quyền thuộc Cổng thông tin điện tử huyện</footer></body></html>""".replace(
    "VI_TEXT", VI
)


def test_html_article_without_menu_or_script(tmp_path: Path) -> None:
    path = tmp_path / "tin.html"
    path.write_text(HTML, encoding="utf-8")
    text = read_text(path)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert VI in lines
    assert "Huyện Cao Lộc hoàn thành mục tiêu kép" in lines
    for junk in ("trackVisitor", "color: red", "Tin tức sự kiện", "Liên hệ góp ý"):
        assert junk not in text


def test_html_to_text_fallback() -> None:
    page = (
        "<html><body><nav>Trang chủ</nav><script>x()</script><p>Ở đây</p><div>19/21</div>"
        "<footer>Bản quyền</footer></body></html>"
    ).encode()
    lines = [line.strip() for line in html_to_text(page).splitlines() if line.strip()]
    assert lines == ["Ở đây", "19/21"]
    latin = b'<html><head><meta charset="windows-1252"></head><body><p>caf\xe9</p></body></html>'
    assert html_to_text(latin).strip() == "café"


def test_utf16_and_utf8_bom_text(tmp_path: Path) -> None:
    for name, data in (
        ("le.txt", codecs.BOM_UTF16_LE + VI.encode("utf-16-le")),
        ("be.txt", codecs.BOM_UTF16_BE + VI.encode("utf-16-be")),
        ("bom.txt", codecs.BOM_UTF8 + VI.encode("utf-8")),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        assert read_text(path) == VI, name


def test_binary_garbage_txt(tmp_path: Path) -> None:
    path = tmp_path / "rac.txt"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(LoadError, match=r"rac\.txt.*binary"):
        read_text(path)


def test_control_characters_txt(tmp_path: Path) -> None:
    path = tmp_path / "dieu_khien.txt"
    path.write_bytes(("ab\x01\x02\x03\x04" * 50).encode())
    with pytest.raises(LoadError, match=r"dieu_khien\.txt.*binary"):
        read_text(path)


def test_legacy_encoding_rejected(tmp_path: Path) -> None:
    path = tmp_path / "cu.txt"
    path.write_bytes("Báo cáo năm".encode("cp1258"))
    with pytest.raises(LoadError, match=r"cu\.txt.*UTF-8"):
        read_text(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "rong.txt"
    path.write_text("  \n\n ", encoding="utf-8")
    with pytest.raises(LoadError, match=r"rong\.txt has no text"):
        read_text(path)


def test_unsupported_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "bang.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(UnsupportedFileError, match=r"bang\.xlsx.*\.docx"):
        read_text(path)
    with pytest.raises(LoadError, match="no such file"):
        read_text(tmp_path / "khong_co.txt")


def test_markdown_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "ghi_chu.md"
    path.write_text(
        "# Báo cáo *quý* 3\n\n**Tổng thu** đạt [452,2 tỷ đồng](http://x.vn/a) ở `huyện`.\n\n"
        "- Mục một\n> Trích dẫn\n![Ảnh hội nghị](a.png)\n",
        encoding="utf-8",
    )
    text = read_text(path)
    assert text.splitlines()[0] == "Báo cáo quý 3"
    assert "Tổng thu đạt 452,2 tỷ đồng ở huyện." in text
    for line in ("Mục một", "Trích dẫn", "Ảnh hội nghị"):
        assert line in text.splitlines()
    assert not any(mark in text for mark in ("#", "*", "](", "`", "http"))


def test_strip_markdown_keeps_snake_case_and_math() -> None:
    assert strip_markdown("ma_so_thue và 2 * 3 * 4") == "ma_so_thue và 2 * 3 * 4"


def test_iter_files_walks_sorted_and_reports(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".an").mkdir()
    for rel in ("b/z.txt", "b/a.md", "c.html", "d.pdf", ".an/x.txt", ".hidden.txt", "e.xlsx"):
        (tmp_path / rel).write_text("x", encoding="utf-8")
    missing = tmp_path / "khong_co"
    found, skipped = iter_files([tmp_path, missing, tmp_path / "c.html"])
    assert found == [tmp_path / "b/a.md", tmp_path / "b/z.txt", tmp_path / "c.html",
                     tmp_path / "d.pdf"]  # fmt: skip
    reasons = dict(skipped)
    assert "unsupported" in reasons[tmp_path / "e.xlsx"]
    assert "no such file" in reasons[missing]
    assert len(skipped) == 2


def test_supported_extensions() -> None:
    assert {".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx"} == SUPPORTED
