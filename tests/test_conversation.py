"""The conversation resolver (pure): follow-up detection, query building, ellipsis rewrites,
history validation. Vietnamese fixtures, NFD and no-diacritics input."""

from __future__ import annotations

import unicodedata

import pytest

from hoidap.errors import InputError
from qa.conversation import (
    MAX_TURN_CHARS,
    MAX_TURNS,
    Resolved,
    Turn,
    content_words,
    ellipsis,
    is_follow_up,
    marker,
    parse_history,
    resolve,
    rewrite_ellipsis,
    turn_from,
)
from qa.types import QAResult

Q1 = "Tổng thu ngân sách Nhà nước trên địa bàn huyện Cao Lộc năm 2020 ước đạt bao nhiêu?"
BUDGET = [Turn(Q1, "452,2 tỷ đồng", "cao_loc")]


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def test_no_history_is_the_question_itself():
    r = resolve("  Ai chủ trì kỳ họp?  ")
    assert r == Resolved("Ai chủ trì kỳ họp?", "Ai chủ trì kỳ họp?")
    assert not r.used_history and r.understood == "Ai chủ trì kỳ họp?"


@pytest.mark.parametrize("question, reason", [
    ("Còn năm 2021 thì sao?", "ellipsis"),
    ("Còn huyện Chi Lăng?", "ellipsis"),
    ("Ai chủ trì buổi làm việc đó?", "marker"),
    ("Ông ấy giữ chức vụ gì?", "marker"),
    ("Năm trước thì đạt bao nhiêu?", "marker"),
    ("Họ đã thảo luận những gì?", "marker"),
    ("Đạt bao nhiêu phần trăm dự toán?", "short"),
    ("Tăng bao nhiêu?", "short"),
])
def test_follow_ups_are_recognised(question, reason):
    assert is_follow_up(question, BUDGET) == reason
    r = resolve(question, BUDGET)
    assert r.used_history and r.reason == reason


@pytest.mark.parametrize("question", [
    "Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?",  # names a place the dialogue lacks
    "Dân số của thành phố Paris năm 2020 là bao nhiêu người?",
])
def test_questions_naming_something_new_are_not_pulled_to_the_old_topic(question):
    r = resolve(question, BUDGET)
    assert not r.used_history and r.query == r.question and r.prefer_doc_ids == ()


def test_longer_questions_are_soft_follow_ups_left_to_retrieval():
    # the engine keeps these alone when their own question ranks first elsewhere
    new = "Có bao nhiêu doanh nghiệp tham dự hội nghị gặp mặt doanh nghiệp, hợp tác xã?"
    assert is_follow_up(new, BUDGET) == "loose"
    same = "Tổng thu ngân sách Nhà nước trên địa bàn huyện tăng bao nhiêu so với cùng kỳ?"
    assert is_follow_up(same, BUDGET) == "topic"


def test_a_corpus_rare_word_new_to_the_dialogue_makes_a_short_question_soft():
    short = "Trà được trồng ở đâu?"
    assert is_follow_up(short, BUDGET) == "short"  # without corpus statistics
    assert is_follow_up(short, BUDGET, rare=lambda w: w == "trà") == "loose"
    # ... but not when the dialogue already talks about it
    tea = [Turn("Trà được trồng ở đâu?", "Mộc Châu")]
    assert is_follow_up("Trà được thu hoạch khi nào?", tea, rare=lambda w: w == "trà") == \
        "short"


def test_query_carries_history_words_most_recent_first_not_repeating_the_question():
    history = [Turn("Huyện Chi Lăng có bao nhiêu nhiệm vụ trọng tâm?", "13/18"), *BUDGET]
    r = resolve("Đạt bao nhiêu phần trăm dự toán?", history)
    assert r.query.startswith("Đạt bao nhiêu phần trăm dự toán?")
    ctx = list(r.context)
    assert {"cao", "lộc", "ngân", "sách", "452,2"} <= set(ctx)
    assert "dự" not in ctx and "toán" not in ctx  # already in the question
    # the latest turn outweighs the older one
    assert ctx.index("cao") < ctx.index("chi") if "chi" in ctx else True
    assert r.prefer_doc_ids == ("cao_loc",)
    assert r.understood.startswith("Đạt bao nhiêu phần trăm dự toán? (ngữ cảnh: ")


def test_older_turns_fade_out():
    old = [Turn("Huyện Chi Lăng có bao nhiêu nhiệm vụ trọng tâm?", "13/18")]
    later = [Turn(f"Câu hỏi số {i} về đoàn công tác?", "") for i in range(3)]
    r = resolve("Ai chủ trì buổi làm việc đó?", old + later)
    assert "lăng" not in r.context  # three turns ago: weight 1/8, below the floor


def test_ellipsis_replaces_the_year_and_keeps_the_topic():
    r = resolve("Còn năm 2021 thì sao?", BUDGET)
    assert r.question == Q1.replace("năm 2020", "năm 2021")
    assert r.query == r.question and r.context == ()
    assert r.prefer_doc_ids == ()  # another year may well be in another document
    assert r.understood == r.question


def test_ellipsis_replaces_the_place():
    r = resolve("Còn huyện Chi Lăng thì sao?", BUDGET)
    assert r.question == Q1.replace("huyện Cao Lộc", "huyện Chi Lăng")


def test_ellipsis_with_a_new_subject_keeps_place_and_year_and_asks_a_figure():
    history = [*BUDGET, Turn("Ai chủ trì buổi làm việc đó?", "Hoàng Văn Nghiệm", "cao_loc")]
    r = resolve("Còn sản lượng lương thực có hạt thì sao?", history)
    assert r.question == "sản lượng lương thực có hạt huyện Cao Lộc năm 2020 là bao nhiêu?"
    assert r.prefer_doc_ids == ("cao_loc",)


def test_chained_ellipses_build_on_what_was_understood():
    history = [*BUDGET, Turn("Còn năm 2021 thì sao?", "620 tỷ đồng")]
    r = resolve("Còn huyện Chi Lăng thì sao?", history)
    assert r.question == "Tổng thu ngân sách Nhà nước trên địa bàn huyện Chi Lăng năm 2021 " \
                         "ước đạt bao nhiêu?"


def test_ellipsis_detection():
    assert ellipsis("Còn năm 2021 thì sao?") == "năm 2021"
    assert ellipsis("Vậy còn xã Tân Liên?") == "xã Tân Liên"
    assert ellipsis("Còn ai tham gia đoàn công tác?") is None  # a question of its own
    assert ellipsis("Cơn đau kéo dài thì sao?") is None
    assert rewrite_ellipsis("Ai chủ trì?", [Q1]) is None
    assert rewrite_ellipsis("Còn năm 2021 thì sao?", []) is None


def test_nfd_input_resolves_like_nfc():
    history = [Turn(nfd(Q1), nfd("452,2 tỷ đồng"), "cao_loc")]
    for q in ("Còn năm 2021 thì sao?", "Đạt bao nhiêu phần trăm dự toán?",
              "Ai chủ trì buổi làm việc đó?", "Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?"):
        assert resolve(nfd(q), history) == resolve(q, BUDGET)


def test_input_without_diacritics():
    plain = [Turn("Tong thu ngan sach huyen Cao Loc nam 2020 la bao nhieu?", "452,2 ty dong")]
    r = resolve("Con nam 2021 thi sao?", plain)
    assert r.used_history and r.question == \
        "Tong thu ngan sach huyen Cao Loc nam 2021 la bao nhieu?"
    assert resolve("Ong ay giu chuc vu gi?", plain).reason == "marker"
    assert resolve("Dat bao nhieu phan tram du toan?", plain).reason == "short"
    assert not resolve("Ty le ho ngheo cua huyen Ba Che con bao nhieu?", plain).used_history


def test_markers_need_their_diacritics_and_set_phrases_do_not_point_back():
    assert marker("Ai chủ trì buổi làm việc đó?") == "do"
    assert marker("Do đâu mà giá tăng?") is None  # "do" = because, not "đó"
    assert marker("Tại sao ăn no sau đó vẫn thấy đói?") is None
    assert marker("Hiện nay có bao nhiêu hộ nghèo?") is None
    assert marker("Cơn đau kéo dài bao lâu?") is None


def test_content_words_drop_function_and_question_words():
    assert content_words("Ai là người chủ trì kỳ họp này vậy?") == ["chủ", "trì", "kỳ", "họp"]
    assert content_words("Huyện Chi Lăng có bao nhiêu xã?") == ["huyện", "chi", "lăng", "xã"]


def test_turn_from_result():
    assert turn_from(QAResult("Dân số Paris?", True)) == Turn("Dân số Paris?", "", None)


# -- parse_history -----------------------------------------------------------------------------

def test_parse_history_accepts_the_documented_shape():
    turns = parse_history([{"question": nfd(Q1), "answer": "452,2 tỷ đồng"},
                           {"question": "Ai chủ trì?", "answer": None, "doc_id": "cao_loc"},
                           {"question": "Còn năm 2021?"}])
    assert turns == (Turn(Q1, "452,2 tỷ đồng"), Turn("Ai chủ trì?", "", "cao_loc"),
                     Turn("Còn năm 2021?"))
    assert parse_history(None) == () and parse_history([]) == ()
    assert parse_history(list(turns)) == turns


@pytest.mark.parametrize("bad, needle", [
    ({"question": "x"}, "must be a list"),
    ("Ai chủ trì?", "must be a list"),
    (["Ai chủ trì?"], "history[0] must be an object"),
    ([{"answer": "x"}], "history[0].question must be a non-empty string"),
    ([{"question": "  "}], "history[0].question"),
    ([{"question": "q", "answer": 3}], "history[0].answer must be a string"),
    ([{"question": "q", "doc_id": 3}], "history[0].doc_id"),
    ([{"question": "q", "role": "user"}], "unknown field(s) role"),
])
def test_parse_history_rejects_bad_shapes_naming_the_entry(bad, needle):
    with pytest.raises(InputError) as err:
        parse_history(bad)
    assert needle in str(err.value)


def test_parse_history_limits():
    with pytest.raises(InputError, match=f"the limit is {MAX_TURNS}"):
        parse_history([{"question": "q"}] * (MAX_TURNS + 1))
    with pytest.raises(InputError, match=r"history\[1\] has"):
        parse_history([{"question": "q"}, {"question": "q", "answer": "x" * MAX_TURN_CHARS}])
