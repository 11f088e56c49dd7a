"""Report dating: the event's day from the lead, its year from the byline or the text."""

from __future__ import annotations

import unicodedata
from collections import Counter

import pytest

from index.clean import extract_title, make_document
from index.dates import date_document, lead_date, text_years, year_before, year_from_text

BODY = "Hội nghị đánh giá kết quả thực hiện nhiệm vụ và đề ra phương hướng cho thời gian tới."


def dating(*paragraphs: str):
    text = "\n\n".join(paragraphs)
    return date_document(text, extract_title(text))


@pytest.mark.parametrize(("para", "expected"), [
    ("Ngày 14/10, Ban Chấp hành Đảng bộ huyện tổ chức kỳ họp.", (14, 10, None)),
    ("LSO-Chiều nay (5/11), Đoàn công tác làm việc với Huyện ủy.", (5, 11, None)),
    ("Sáng 5/11/2020, UBND huyện họp phiên thường kỳ.", (5, 11, 2020)),
    ("(PLVN) - Tối 20-11, đoàn đã đến thăm xã.", (20, 11, None)),
    ("Chiều ngày 21/01, Huyện ủy tổ chức hội nghị tổng kết.", (21, 1, None)),
    ("Hôm qua (3/4), công an huyện cho biết vụ việc.", (3, 4, None)),
    ("Vào ngày 21 tháng 01 năm 2021, hội nghị đã diễn ra.", (21, 1, 2021)),
    ("Vụ tai nạn ngày 12-3-2005 được xem xét; ngày 26-9, Thủ tướng đã ký.", (26, 9, None)),
    ("Theo quyết định ngày 1-12 do Phó chủ tịch UBND ký, công trình bị tháo dỡ.", (1, 12, None)),
    ("Ngày 21 tháng 01 năm 2021, hội nghị đã diễn ra.", (21, 1, 2021)),
    ("Đến ngày 10/11/2023 giá trị sản xuất đạt 2.351 tỷ đồng.", None),
    ("Theo Nghị định số 12/2005/NĐ-CP ngày 5/2/2005 của Chính phủ.", None),
    ("Có 80/80 chi bộ học tập nghị quyết.", None),
    ("Tính đến cuối tháng 10/2020, 80/80 chi bộ đã học tập.", None),
    ("Ngày 31/2, hội nghị diễn ra.", None),
])
def test_lead_date(para: str, expected) -> None:
    found = lead_date(para)
    assert (None if found is None else (found.day, found.month, found.year)) == expected


def test_event_date_beats_the_page_header() -> None:
    # seed 000: the site header shows the day the page was read, the lead a meeting of 2020
    d = dating("Thứ sáu,  24/09/2021", "Thường trực Tỉnh ủy làm việc với Huyện ủy",
               "LSO-Chiều nay (5/11), Đoàn công tác làm việc về nhiệm vụ năm 2020.",
               "Tính đến cuối tháng 10/2020, 80/80 chi bộ học tập. Năm 2020 đạt nhiều kết quả.")
    assert (d.date, d.date_source) == ("2020-11-05", "lead+text")
    assert (d.published, d.published_source) == ("2021-09-24", "header")


def test_year_from_the_byline_across_new_year() -> None:
    d = dating("Tổng kết năm của ngành điện lực tỉnh", "02/01/2007 08:15",
               "Ngày 29/12, Điện lực tỉnh tổ chức hội nghị tổng kết.", BODY)
    assert (d.date, d.date_source, d.published, d.published_source) == (
        "2006-12-29", "lead+byline", "2007-01-02", "byline")


def test_january_review_of_a_year_is_held_the_next_year() -> None:
    d = dating("Huyện ủy tổng kết công tác xây dựng Đảng năm 2021",
               "Chiều ngày 21/01, Huyện ủy tổ chức Hội nghị tổng kết công tác xây dựng Đảng năm "
               "2021, triển khai phương hướng, nhiệm vụ trọng tâm năm 2022.",
               "Năm 2021, huyện đã hoàn thành 17/18 chỉ tiêu năm.")
    assert d.date == "2022-01-21"


def test_no_day_in_the_lead_gives_the_byline_or_nothing() -> None:
    assert dating("Huyện tổ chức hội nghị tổng kết", "15/10/2020 08:00", BODY).date_source == \
        "byline"
    undated = dating("Huyện quyết tâm hoàn thành mục tiêu kép năm 2021", BODY)
    assert (undated.date, undated.published) == (None, None)


def test_a_site_header_never_decides_the_year() -> None:
    d = dating("Thứ hai, 01/03/2022", "Xã Hòa Bình khánh thành trường học",
               "Sáng 28/2, xã Hòa Bình khánh thành trường học mới.")
    assert (d.date, d.published, d.published_source) == (None, "2022-03-01", "header")


def test_title_date_footer_byline_and_yesterday() -> None:
    d = dating("Giá trái cây tại các chợ đầu mối khu vực ĐBSCL ngày 4-4-2006",
               "Chợ Tam Bình: giá từ 8.000 đồng/kg.")
    assert (d.date, d.date_source) == ("2006-04-04", "title")
    d = dating("Ông Hồng Thanh nói về vụ việc của đội bóng",
               "Sau 2 ngày làm việc, hôm qua nguyên trưởng đoàn đã trao đổi với phóng viên.",
               "Đăng lúc 06:20 ngày 06/01/2006")
    assert (d.date, d.date_source, d.published) == ("2006-01-05", "lead+byline", "2006-01-06")


def test_text_years_ignore_ranges_and_document_numbers() -> None:
    years = text_years("Nhiệm kỳ 2020 – 2025. Nghị quyết số 08/2019/NQ-HĐND. Năm 2021 và "
                       "tháng 7/2021 đạt 1.213.353 triệu đồng.", "Tổng kết năm 2021")
    assert years == Counter({2021: 6})


def test_year_helpers() -> None:
    assert year_before(29, 12, "2007-01-02") == 2006
    assert year_before(14, 10, "2020-10-15") == 2020
    assert year_from_text(11, Counter({2020: 5, 2021: 1})) == 2020
    assert year_from_text(1, Counter({2021: 5, 2022: 1})) == 2022
    assert year_from_text(5, Counter()) is None


def test_documents_carry_both_dates_and_nfd_input_is_read() -> None:
    raw = unicodedata.normalize("NFD", "Thứ sáu, 24/09/2021\n\nHuyện ủy làm việc với xã\n\n"
                                       "Chiều nay (5/11), đoàn công tác làm việc về năm 2020.")
    doc = make_document("d", "d.txt", raw)
    assert (doc.date, doc.date_source, doc.published, doc.published_source) == (
        "2020-11-05", "lead+text", "2021-09-24", "header")


def test_labelled_pages_are_dated_to_the_day() -> None:
    """tests/data/dates: 95 news/report pages labelled by hand (README there); goal >= 90%."""
    import json
    from pathlib import Path

    from index.clean import load_document

    folder = Path(__file__).parent / "data" / "dates"
    rows = [json.loads(x) for x in (folder / "labels.jsonl").read_text("utf-8").splitlines()
            if x.strip()]
    assert len(rows) >= 60
    dated = [r for r in rows if r["date"]]
    right = sum(load_document(folder / r["file"]).date == r["date"] for r in dated)
    assert right / len(dated) >= 0.90, f"{right}/{len(dated)} exact days"
    published = [r for r in rows if r.get("published")]
    assert all(load_document(folder / r["file"]).published == r["published"] for r in published)
