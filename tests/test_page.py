"""The chat page's pure helpers: Gradio strings in Vietnamese, the conversation kept in the
browser, and the contrast arithmetic of the dark-mode browser test (no browser here)."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest

from qa.conversation import MAX_TURNS, Turn
from tests.contrast import blend, contrast_ratio, painted_contrast, parse_color
from ui.i18n import EXACT, PREFIXES, head_html
from ui.session import MAX_MESSAGES, message_text, restored, saved

Q = {"role": "user", "content": '<div class="hd-question">Tổng thu năm 2020?</div>'}
A = {"role": "assistant", "content": '<div class="hd-reply">452,2 tỷ đồng</div>'}


# -- i18n --------------------------------------------------------------------------------------
def test_gradio_strings_have_vietnamese_that_differs_from_the_english():
    for english, viet in [*EXACT.items(), *PREFIXES]:
        assert viet.strip() and viet != english, english
        assert unicodedata.normalize("NFC", viet) == viet, viet
    for must in ("Clear", "Copy message", "Scroll down", "processing |", "chatbot conversation"):
        assert must in EXACT
    assert {en for en, _ in PREFIXES} >= {"user's message: ", "bot's message: ", "queue: "}


def test_head_html_carries_the_translations_pickers_and_script():
    html = head_html({"date_from": "Chọn ngày"})
    data = re.search(r"window\.HOIDAP_VI = (.*?);</script>", html, re.S)[1]
    parsed = json.loads(data)
    assert parsed["exact"]["Clear"] == EXACT["Clear"]
    assert parsed["pickers"] == {"date_from": "Chọn ngày"}
    assert [tuple(p) for p in parsed["prefixes"]] == list(PREFIXES)
    assert "MutationObserver" in html and "showPicker" in html
    assert html.count("</script>") == 2  # nothing in the data closes a script early


def test_head_html_escapes_a_closing_tag_in_the_data():
    html = head_html({"x": "</script><script>alert(1)</script>"})
    assert html.count("</script>") == 2
    data = re.search(r"window\.HOIDAP_VI = (.*?);</script>", html, re.S)[1]
    assert json.loads(data)["pickers"]["x"] == "</script><script>alert(1)</script>"


# -- the conversation stored in the browser ----------------------------------------------------
def test_saved_then_restored_gives_the_conversation_back():
    turns = [Turn("Tổng thu năm 2020?", "452,2 tỷ đồng", "doc1")]
    value = saved([Q, A], turns)
    assert json.loads(json.dumps(value)) == value  # JSON for localStorage
    assert restored(value) == ([Q, A], turns)


def test_saved_flattens_gradio_message_parts():
    parts = {"role": "user", "content": [{"type": "text", "text": "Câu "},
                                         {"type": "text", "text": "hỏi"}], "metadata": None}
    assert saved([parts], [])["messages"] == [{"role": "user", "content": "Câu hỏi"}]
    assert message_text([{"type": "file", "file": {"path": "x"}}]) is None
    assert message_text(None) is None


def test_saved_keeps_only_the_latest_messages_and_turns():
    value = saved([Q, A] * MAX_MESSAGES, [Turn(f"câu {i}") for i in range(MAX_TURNS + 5)])
    assert len(value["messages"]) == MAX_MESSAGES
    assert len(value["turns"]) == MAX_TURNS and value["turns"][-1]["question"] == "câu 24"
    assert restored(value)[1][0] == Turn("câu 5")


@pytest.mark.parametrize("value", [
    None, "text", [], {"messages": "x"}, {"turns": "x"}, {"turns": {"a": 1}},
    {"messages": [Q, {"role": "system", "content": "x"}], "turns": []},
    {"messages": [Q, {"role": "user", "content": 3}], "turns": []},
    {"messages": [Q, A], "turns": [{"question": ""}]},
    {"messages": [Q, A], "turns": [{"question": "q", "extra": 1}]},
    {"messages": [Q, {"role": "system", "content": "x"}], "turns": [{"question": "q"}]},
    {"messages": "x", "turns": [{"question": "q"}]},
])
def test_restored_gives_an_empty_conversation_for_a_malformed_value(value):
    assert restored(value) == ([], [])


def test_restored_of_an_empty_store_is_empty():
    assert restored(saved([], [])) == ([], [])


# -- contrast arithmetic (dark-mode browser test) ----------------------------------------------
def test_contrast_ratio_extremes_and_parsing():
    black, white = parse_color("rgb(0, 0, 0)"), parse_color("rgba(255, 255, 255, 1)")
    assert contrast_ratio(black, white) == pytest.approx(21)
    assert contrast_ratio(white, white) == pytest.approx(1)
    assert parse_color("rgba(10, 20, 30, 0.5)") == (10, 20, 30, 0.5)
    with pytest.raises(ValueError, match="not an rgb"):
        parse_color("#fff")


def test_blend_and_painted_contrast_account_for_alpha_and_opacity():
    assert blend((255, 255, 255, 0.5), (0, 0, 0, 1)) == (127.5, 127.5, 127.5, 1.0)
    solid = painted_contrast("rgb(0, 0, 0)", [("rgb(255, 255, 255)", 1.0)])
    assert solid == pytest.approx(21)
    # the same text faded to 50% over black: grey text on grey, much weaker
    faded = painted_contrast("rgb(0, 0, 0)", [("rgb(255, 255, 255)", 1.0),
                                              ("rgba(0, 0, 0, 0)", 0.5),
                                              ("rgb(0, 0, 0)", 1.0)])
    assert 1 < faded < 6
    # light text on a transparent element: the first opaque ancestor is the background
    assert painted_contrast("rgb(255, 255, 255)", [("rgba(0, 0, 0, 0)", 1.0),
                                                   ("rgb(0, 0, 0)", 1.0)]) == pytest.approx(21)
