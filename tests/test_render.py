"""Pure HTML rendering: escaping before marking, numbered sources, the viewer page."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace

from index.types import Document
from qa.types import Answer, Citation, Passage, QAResult
from ui.render import (
    NO_ANSWER,
    answer_html,
    clamp_span,
    date_label,
    document_label,
    highlight,
    no_answer_html,
    viewer_page,
    viewer_url,
)

HOSTILE = "Tin <script>alert(1)</script> và <img src=x onerror=alert(2)> ở xã."


def _doc(text: str, doc_id: str = "bao_cao", date: str | None = "2020-10-15") -> Document:
    return Document(doc_id, "Báo cáo <b>tháng</b> 9", date, f"{doc_id}.txt", text, "h")


def _answer(passage: str, p_start: int, span: str, doc_id: str = "bao_cao",
            paragraph: int = 3) -> Answer:
    a = p_start + passage.index(span)
    cit = Citation(doc_id, "Kỳ họp <thứ 3>", "2020-10-15", f"{doc_id}.txt", paragraph, a,
                   a + len(span))
    return Answer(span, 0.81, cit, passage, p_start, p_start + len(passage))


def _passage(text: str, doc_id: str = "bao_cao", start: int = 0) -> Passage:
    return Passage(f"{doc_id}#0", doc_id, "Tiêu đề", None, f"{doc_id}.txt", 2, text, start,
                   start + len(text), 0.5)


def test_highlight_escapes_text_before_marking():
    text = "Giá <b>tăng</b> 3,5% ở xã A & B"
    start = text.index("3,5%")
    out = highlight(text, start, start + 4)
    assert out == ("Giá &lt;b&gt;tăng&lt;/b&gt; <mark>3,5%</mark> ở xã A &amp; B")


def test_highlight_marks_the_escaped_span_of_hostile_text():
    s = HOSTILE.index("<img")
    e = HOSTILE.index(">", s) + 1
    out = highlight(HOSTILE, s, e, mark_id="hl")
    assert "<script>" not in out and "<img" not in out
    assert '<mark id="hl">&lt;img src=x onerror=alert(2)&gt;</mark>' in out


def test_highlight_clamps_out_of_range_offsets():
    assert clamp_span(5, -3, 99) == (0, 5)
    assert clamp_span(5, 4, 2) == (4, 4)
    assert highlight("ở xã", 10, 20) == "ở xã<mark></mark>"


def test_inline_highlight_has_no_newlines_and_keeps_paragraphs():
    text = "Dòng một.\n\n# Không phải tiêu đề\n1. Không phải danh sách"
    out = highlight(text, 0, 4)
    assert "\n" not in out
    assert out.count("<br>") == 3 and "# Không phải tiêu đề" in out


def test_answer_html_short_answer_first_then_numbered_sources():
    passage = "Tổng thu ngân sách ước đạt 452,2 tỷ đồng, bằng 105% dự toán."
    first = _answer(passage, 100, "452,2 tỷ đồng")
    second = _answer(passage, 100, "105%", doc_id="khac", paragraph=7)
    html = answer_html(QAResult("Tổng thu?", False, (first, second), ()))
    assert "\n" not in html
    assert html.index("452,2 tỷ đồng") < html.index("[1]") < html.index("[2]")
    assert html.index("Trả lời") < html.index("Nguồn")
    assert "<mark>452,2 tỷ đồng</mark>" in html and "<mark>105%</mark>" in html
    assert "đoạn 3" in html and "đoạn 7" in html and "15/10/2020" in html
    assert "Kỳ họp &lt;thứ 3&gt;" in html and "<thứ 3>" not in html
    c = first.citation
    assert f'href="/viewer/bao_cao?start={c.start}&amp;end={c.end}#hl"' in html
    assert NO_ANSWER not in html


def test_no_answer_html_says_so_and_shows_nearest_passages():
    passages = tuple(_passage(f"Đoạn {i} <i>gần</i> nhất", f"d{i}") for i in range(5))
    html = no_answer_html(QAResult("Câu hỏi?", True, (), passages))
    assert NO_ANSWER in html
    assert html.count('class="hd-source"') == 3
    assert "&lt;i&gt;gần&lt;/i&gt;" in html and "<i>" not in html
    assert "<mark>" not in html
    assert answer_html(QAResult("Câu hỏi?", True, (), passages)) == html


def test_no_answer_without_passages():
    html = no_answer_html(QAResult("Câu hỏi?", True, (), ()))
    assert NO_ANSWER in html and "<ol" not in html


def test_viewer_page_escapes_and_marks_span():
    text = "Mở đầu.\n\n" + HOSTILE + "\n\nKết thúc."
    s = text.index("xã")
    page = viewer_page(_doc(text), s, s + 2)
    body = page.split("<main", 1)[1]
    assert "<script>alert" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert re.search(r'<mark id="hl">xã</mark>', body)
    assert "Báo cáo &lt;b&gt;tháng&lt;/b&gt; 9" in page
    assert page.count("<script>") == 1  # only our scroll script


def test_viewer_page_without_span_has_no_mark():
    page = viewer_page(_doc("Văn bản ngắn ở xã."))
    assert "<mark" not in page and "Văn bản ngắn ở xã." in page


def test_viewer_url_quotes_id():
    assert viewer_url("a b/c", 1, 5) == "/viewer/a%20b%2Fc?start=1&end=5#hl"


def test_date_label_and_document_label():
    assert date_label("2021-09-24") == "24/09/2021"
    assert date_label(None) == "không rõ ngày"
    nfd = unicodedata.normalize("NFD", "Huyện ủy Cao Lộc")
    doc = Document("x", nfd + " " + "rất dài " * 20, None, "x.txt", "t", "h")
    label = document_label(doc, width=30)
    assert label.endswith("(không rõ ngày)")
    assert len(label.split(" (")[0]) == 30 and "…" in label


def test_alternatives_are_real_answers_and_overlapping_passages_show_once():
    from dataclasses import replace

    from ui.render import shown_answers, source_numbers

    passage = "Huyện Cao Lộc trồng 800 cây keo và 1.200 cây quế ở xã Bình Trung."
    best = _answer(passage, 100, "1.200 cây quế")
    fragment = replace(_answer(passage, 100, "Huyện"), score=0.7)
    piece = replace(_answer(passage, 100, "1.200"), score=0.7)
    weak = replace(_answer(passage, 100, "800 cây keo"), score=0.2)
    other = replace(_answer(passage, 100, "800 cây keo"), score=0.6)
    overlapping = _answer(passage[10:], 110, "800 cây keo")  # the next, overlapping chunk
    assert shown_answers([best, fragment, piece, weak, other]) == [best, other]
    far = _answer("Xã Bình Trung có 40 ha quế.", 900, "40 ha")
    assert source_numbers([best, overlapping, far]) == [1, 1, 2]
    html = answer_html(QAResult("Trồng bao nhiêu cây?", False, (best, fragment, overlapping,
                                                                 far), ()))
    assert "Huyện <sup>" not in html
    assert "800 cây keo <sup>[1]</sup>" in html and "40 ha <sup>[2]</sup>" in html
    assert html.count('class="hd-source"') == 2


def test_answer_html_shows_the_calibrated_level_not_the_raw_score():
    passage = "Tổng thu ngân sách ước đạt 452,2 tỷ đồng, bằng 105% dự toán."
    best = replace(_answer(passage, 0, "452,2 tỷ đồng"), score=0.99, confidence=0.62,
                   confidence_level="medium")
    html = answer_html(QAResult("Tổng thu?", False, (best,), ()))
    assert "Độ tin cậy: trung bình (khoảng 6/10 câu trả lời ở mức này là đúng)" in html
    assert "hd-conf-medium" in html and "99%" not in html
    bare = answer_html(QAResult("Tổng thu?", False, (_answer(passage, 0, "105%"),), ()))
    assert "chưa hiệu chỉnh" in bare and "81%" not in bare


def test_vague_question_gets_a_request_to_be_specific():
    result = QAResult("Kết quả thế nào?", True, vague=True,
                      clarification="Câu hỏi chưa rõ: bạn muốn hỏi <kết quả> của việc gì?")
    html = answer_html(result)
    assert "hd-vague" in html and "Câu hỏi chưa rõ" in html and "&lt;kết quả&gt;" in html
    assert NO_ANSWER not in html
