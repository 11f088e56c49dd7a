"""Candidate spans: Vietnamese figures with units, dates, names, places and lists."""

from __future__ import annotations

from qa.spans import Candidate, extract, predicate_candidates


def spans(text: str, head: tuple[str, ...] = ()) -> dict[str, str]:
    """Candidate text -> kind."""
    return {text[c.start:c.end]: c.kind for c in extract(text, head)}


def test_figures_keep_units_and_approximators() -> None:
    found = spans("Thu ngân sách đạt trên 56,3 tỷ đồng, sản lượng 24.236 tấn, "
                  "diện tích 3.945,25 ha, tỷ lệ 3,5%.")
    assert found["trên 56,3 tỷ đồng"] == "number"
    assert found["24.236 tấn"] == "number"
    assert found["3.945,25 ha"] == "number"
    assert found["3,5%"] == "percent"


def test_head_noun_and_acronym_follow_the_figure() -> None:
    found = spans("Kỷ luật 12 đảng viên và nâng tổng số lên 38 HTX.", ("dang", "vien"))
    assert "12 đảng viên" in found
    cands = extract("nâng tổng số lên 38 HTX.", ("hop", "tac", "xa"))
    assert [c.head_match for c in cands if c.kind == "number"] == [True]


def test_fractions_dates_and_years() -> None:
    found = spans("Hoàn thành 19/21 chỉ tiêu; kỷ niệm ngày thành lập (04/11/1831). "
                  "Ngày 5 tháng 11 năm 2020 có 28.872/54.275 triệu đồng.")
    assert found["19/21 chỉ tiêu"] == "number"
    assert found["04/11/1831"] == "date"
    assert found["Ngày 5 tháng 11 năm 2020"] == "date"
    assert found["28.872/54.275 triệu đồng"] == "number"
    assert spans("Đến năm 2033 sẽ hoàn thành.")["năm 2033"] == "year"
    assert spans("Có 2033 đảng viên.")["2033 đảng viên"] == "number"


def test_word_attached_numbers_are_not_figures() -> None:
    kinds = spans("Phòng, chống dịch Covid-19 hiệu quả.").values()
    assert not any(k in {"number", "year"} for k in kinds)


def test_person_after_title_and_place_after_place_word() -> None:
    found = spans("Đoàn công tác do đồng chí Hoàng Văn Nghiệm làm trưởng đoàn, "
                  "làm việc ở thị trấn Đồng Đăng.")
    assert found["Hoàng Văn Nghiệm"] == "person"
    assert found["Đồng Đăng"] == "place"
    assert "HĐND" not in found


def test_coordinated_names_form_a_list() -> None:
    found = spans("Có thêm 2 xã đạt chuẩn (Xuất Lễ và Tân Liên); "
                  "các xã Hòa Cư, Hải Yến và Cao Lâu.")
    assert found["Xuất Lễ và Tân Liên"] == "list"
    assert found["Hòa Cư, Hải Yến và Cao Lâu"] == "list"


def test_one_letter_words_and_offsets() -> None:
    text = "Ở xã Ba Sơn, ý kiến đạt 3,5%."
    for c in extract(text):
        assert isinstance(c, Candidate)
        assert text[c.start:c.end].strip() == text[c.start:c.end]
    assert spans(text)["Ba Sơn"] == "place"


def test_predicate_after_la() -> None:
    text = "Nông thôn mới là chương trình mục tiêu quốc gia, do xã thực hiện."
    got = [text[c.start:c.end] for c in predicate_candidates(text)]
    assert got == ["chương trình mục tiêu quốc gia"]


def test_ordinals_percent_with_space_and_year_terms() -> None:
    found = spans("Hội nghị lần thứ 15 đạt 53,20 % kế hoạch, nhiệm kỳ 2020 - 2025.")
    assert found["15"] == "ordinal"
    assert found["53,20 %"] == "percent"
    assert found["2020 - 2025"] == "year"


def test_place_word_governs_the_whole_list() -> None:
    cands = extract("tập trung chỉ đạo 02 xã Thanh Sơn, Đồn Đạc đạt chuẩn NTM")
    lists = [c for c in cands if c.kind == "list"]
    assert len(lists) == 1 and lists[0].evidence == 1.0
