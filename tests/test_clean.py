"""Tests for index.clean on the real seed articles and on tiny fixtures."""

from __future__ import annotations

import hashlib
import unicodedata
from pathlib import Path

import pytest

from hoidap.errors import LoadError
from index.clean import (
    clean_text,
    extract_date,
    extract_title,
    find_date,
    is_furniture,
    load_document,
    make_document,
    safe_doc_id,
)

SEEDS = Path(__file__).resolve().parents[1] / "seeds"

# doc stem -> (title, date, byline that must stay, furniture lines that must go)
EXPECTED = {
    "000_3136d018227d05e4": (
        "Thường trực Tỉnh ủy làm việc với Huyện ủy Cao Lộc", "2020-11-05", ["TRÍ DŨNG"], [],
    ),
    "001_c8e7c013f939d71d": (
        "Hội nghị Ban Chấp hành Đảng bộ huyện Chi Lăng lần thứ 15", None,
        ["THANH MAI - THANH CƯƠNG"], [],
    ),
    "002_f351c9930ccaadd2": (
        "Huyện Cao Lộc quyết tâm hoàn thành thắng lợi mục tiêu \"kép”", None, [],
        ["0:00", "ảnh 1", "Cùng chuyên mục", "F0 chăm sóc F0", "Bệnh viện Đa khoa Đồng Nai",
         "Đọc thêm"],
    ),
    "003_7df8df956a9623e7": (
        "Huyện ủy Cao Lộc tổng kết công tác xây dựng Đảng năm 2021", "2022-01-21",
        ["XUÂN ĐIỆP", "Trung tâm VH,TT&TT huyện Cao Lộc"],
        ["Skip to main content", "Chế độ ban đêm", "Xuất PDF", "-A A +A", "nhiệm kỳ 2020 - 2025"],
    ),
    "004_89987b1a15d4823c": (
        "Ban Chấp hành Đảng bộ huyện triển khai nhiệm vụ trọng tâm 3 tháng cuối năm 2020",
        "2020-10-14", ["Bình Minh/Trung tâm TT&VH Ba Chẽ"],
        ["Tìm kiếm", "Tin Nóng", "Tin tiêu điểm", "Lịch công tác", "Website liên kết",
         "Thống kê truy cập", "Hôm nay", "Đã truy cập", "6581658"],
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def seed_docs() -> dict[str, object]:
    return {path.stem: load_document(path) for path in sorted(SEEDS.glob("*.txt"))}


def test_all_seeds_covered(seed_docs: dict) -> None:
    assert set(seed_docs) == set(EXPECTED)


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_seed_title_date_and_furniture(seed_docs: dict, stem: str) -> None:
    title, date, keep, gone = EXPECTED[stem]
    doc = seed_docs[stem]
    assert doc.doc_id == stem
    assert doc.title == title
    assert doc.date == date
    paragraphs = doc.text.split("\n\n")
    for line in keep:
        assert line in paragraphs, line
    for junk in gone:
        assert junk not in doc.text, junk
    assert doc.content_hash == hashlib.sha256(doc.text.encode()).hexdigest()


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_seed_text_convention(seed_docs: dict, stem: str) -> None:
    text = seed_docs[stem].text
    assert unicodedata.is_normalized("NFC", text)
    assert "\n\n\n" not in text
    assert "  " not in text and "\u00a0" not in text
    for para in text.split("\n\n"):
        assert para == para.strip() and para and "\n" not in para


def test_seed_body_kept(seed_docs: dict) -> None:
    """Every non-furniture line of a seed survives cleaning (nothing useful lost)."""
    text = seed_docs["000_3136d018227d05e4"].text
    for needle in ("452,2 tỷ đồng", "101,63%", "19/21", "24.236 tấn", "Hoàng Văn Nghiệm"):
        assert needle in text
    assert "Diện mạo huyện Cao Lộc đang thay đổi từng ngày." in seed_docs[
        "002_f351c9930ccaadd2"
    ].text.split("\n\n")
    assert seed_docs["002_f351c9930ccaadd2"].text.count("Diện mạo huyện Cao Lộc") == 1
    assert "3.945,25 ha" in seed_docs["002_f351c9930ccaadd2"].text


def test_old_tone_spelling_normalized(seed_docs: dict) -> None:
    raw = (SEEDS / "002_f351c9930ccaadd2.txt").read_text(encoding="utf-8")
    assert "Tỉnh uỷ" in raw and "hàng hoá" in raw
    text = seed_docs["002_f351c9930ccaadd2"].text
    assert "Tỉnh ủy" in text and "Tỉnh uỷ" not in text
    assert "hàng hóa" in text and "hàng hoá" not in text


def test_whitespace_and_paragraphs() -> None:
    raw = "Tiêu đề\u00a0 bài\tviết\r\n\r\n\r\n  Dòng một được\r\nnối tiếp ở đây.\r\nDòng mới.\n\n\n"
    assert clean_text(raw) == "Tiêu đề bài viết\n\nDòng một được nối tiếp ở đây.\n\nDòng mới."


def test_comma_line_joins_next() -> None:
    assert clean_text("Đồng chí A, Bí thư,\nChủ tịch huyện phát biểu") == (
        "Đồng chí A, Bí thư, Chủ tịch huyện phát biểu"
    )


def test_nfd_and_invisible_characters() -> None:
    raw = unicodedata.normalize("NFD", "Hoà\u200b bình ở\u00ad đây")
    assert clean_text(raw) == "Hòa bình ở đây"


BODY = "Nội dung chính của bài viết về kết quả thu ngân sách đạt 452,2 tỷ đồng. " * 6


def test_repeated_caption_kept_once() -> None:
    raw = f"Tiêu đề\n\nẢnh: Trụ sở UBND huyện.\n\nẢnh: Trụ sở UBND huyện.\n\n{BODY}"
    assert clean_text(raw).split("\n\n") == ["Tiêu đề", "Ảnh: Trụ sở UBND huyện.", BODY.strip()]


def test_related_tail_cut_only_after_body() -> None:
    raw = f"Đọc thêm\n\nTiêu đề\n\n{BODY}\n\nTin liên quan:\n\nBài khác hoàn toàn\n\nMột tin nữa"
    assert clean_text(raw).split("\n\n") == ["Tiêu đề", BODY.strip()]


def test_title_echo_with_photo_number_dropped() -> None:
    raw = f"Cao Lộc về đích sớm\n\n{BODY}\n\nCao Lộc về đích sớm ảnh 2\n\nChú thích ảnh."
    assert clean_text(raw).split("\n\n") == ["Cao Lộc về đích sớm", BODY.strip(), "Chú thích ảnh."]


@pytest.mark.parametrize(
    "line",
    ["0:00 / 0:00", "12:31", "Skip to main content", "In bài | Chia sẻ | Zalo", "A- A A+",
     "Lượt xem: 1.234", "Đang online: 12", "Copyright © 2024 UBND huyện", "Tin mới nhất",
     "Tìm kiếm"],
)  # fmt: skip
def test_furniture_kinds(line: str) -> None:
    assert is_furniture(line)


@pytest.mark.parametrize(
    "line",
    ["XUÂN ĐIỆP", "Bình Minh/Trung tâm TT&VH Ba Chẽ", "Hôm nay, huyện tổ chức hội nghị.",
     "Tìm kiếm giải pháp thu hút đầu tư vào huyện", "Quang cảnh kỳ họp."],
)  # fmt: skip
def test_not_furniture(line: str) -> None:
    assert not is_furniture(line)


def test_banner_kept_when_toolbar_follows_title() -> None:
    raw = f"Tiêu đề bài viết\n\n15/10/2020 08:00\n\nIn bài Chia sẻ\n\n{BODY}"
    assert clean_text(raw).split("\n\n") == ["Tiêu đề bài viết", "15/10/2020 08:00", BODY.strip()]


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("15/10/2020 08:00", "2020-10-15"),
        ("Thứ sáu, 24/09/2021", "2021-09-24"),
        ("Lạng Sơn, ngày 5 tháng 11 năm 2020", "2020-11-05"),
        ("Cập nhật 2022-03-07 10:00", "2022-03-07"),
        ("5-11-2020", "2020-11-05"),
        ("31/02/2020", None),
        ("3.945,25 ha", None),
    ],
)
def test_find_date(text: str, iso: str | None) -> None:
    assert find_date(text) == iso


def test_extract_date_prefers_the_event_in_the_lead() -> None:
    text = f"Tiêu đề\n\nThứ hai, 01/03/2021\n\nNgày 10/12/2019 và 5/11/2020 trong thân bài. {BODY}"
    assert extract_date(text) == "2019-12-10"
    # no day in the lead: the date line under the title (the byline) dates the page, but a
    # weekday line is the site's "today" (a header), which dates nothing
    assert extract_date(f"Tiêu đề\n\n01/03/2021 08:00\n\nThân bài không có ngày. {BODY}") == (
        "2021-03-01")
    assert extract_date(f"Tiêu đề\n\nThứ hai, 01/03/2021\n\nThân bài không có ngày. {BODY}") is None
    assert extract_date(f"Tiêu đề\n\nNghị quyết số 08/2019/NQ-HĐND ngày 10/12/2019 được ban "
                        f"hành. {BODY}") is None


def test_extract_title_skips_dates_and_short_lines() -> None:
    assert extract_title("24/09/2021\n\nOK\n\nHuyện ủy tổng kết năm 2021\n\nThân bài.") == (
        "Huyện ủy tổng kết năm 2021"
    )
    assert extract_title("") == ""
    long_para = "từ " * 200
    assert extract_title(long_para).endswith("…") and len(extract_title(long_para)) <= 121


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Báo cáo tháng 5", "Bao_cao_thang_5"), ("../../etc/passwd", "etc_passwd"),
     ("a..b", "a.b"), ("đề-án_v1.2", "de-an_v1.2")],
)  # fmt: skip
def test_safe_doc_id(name: str, expected: str) -> None:
    assert safe_doc_id(name) == expected


def test_safe_doc_id_fallback() -> None:
    out = safe_doc_id("///")
    assert out.startswith("doc_") and "/" not in out


def test_make_document_rejects_furniture_only() -> None:
    with pytest.raises(LoadError, match="trang.html"):
        make_document("x", "trang.html", "0:00 / 0:00\n\nTin Nóng\n\nHôm nay: 12")


def test_make_document_fields() -> None:
    doc = make_document("d1", "mem", "Tiêu đề hoà giải\n\n15/10/2020 08:00\n\nỞ đây đạt 3,5%.")
    assert (doc.doc_id, doc.source, doc.title, doc.date) == (
        "d1", "mem", "Tiêu đề hòa giải", "2020-10-15",
    )  # fmt: skip
    assert doc.content_hash == hashlib.sha256(doc.text.encode()).hexdigest()


def test_load_document_sanitises_id(tmp_path: Path) -> None:
    path = tmp_path / "Báo cáo (bản 2).txt"
    path.write_text("Tiêu đề báo cáo năm\n\nNội dung ở đây.", encoding="utf-8")
    doc = load_document(path)
    assert doc.doc_id == "Bao_cao_ban_2"
    assert doc.source == str(path)
