"""End to end in a real browser: Debian's Chromium driven by Playwright.

The real server (uvicorn in a thread, free loopback port) runs over a temporary index of
the seeds plus a hostile document, embedded with the real model. Screenshots go to
``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from hoidap.config import Config, default_corpus
from qa.engine import QAEngine
from qa.search.write import build_index
from tests.contrast import painted_contrast
from tests.shared import shared_file
from ui.chat import EXAMPLES

pytestmark = [pytest.mark.browser, pytest.mark.model]

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SEEDS_QA = "eval/seeds_qa.jsonl"
SEED_Q = ("Tổng thu ngân sách Nhà nước trên địa bàn huyện Cao Lộc năm 2020 ước đạt bao nhiêu?",
          "452,2 tỷ đồng")
HOSTILE = (
    "Thứ hai, 01/03/2022\n\nXã Hòa Bình tổng kết công tác giảm nghèo năm 2021\n\n"
    "Báo cáo của UBND xã Hòa Bình có đoạn <script>alert('xss')</script> và "
    "<img src=x onerror=alert(1)> chỉ được hiển thị như văn bản.\n\n"
    "Năm 2021, số hộ nghèo của xã Hòa Bình giảm còn 120 hộ, tỷ lệ hộ nghèo còn 4,2%.")
UPLOAD = ("Xã Đồng Tâm khánh thành cầu treo\n\nNgày 2/9/2024, xã Đồng Tâm khánh thành cầu "
          "treo bắc qua suối Nà Lừa. Cầu treo dài 86 mét, rộng 1,5 mét, tổng vốn đầu tư "
          "3,2 tỷ đồng do nhân dân đóng góp một phần.")

BRIDGE_NEWS = ("Xã Tân Văn khánh thành cầu Khuổi Pục\n\nNgày 5/6/2024, xã Tân Văn khánh "
               "thành cầu Khuổi Pục. Cầu Khuổi Pục dài 112 mét, rộng 3,5 mét, tổng vốn đầu tư "
               "7,8 tỷ đồng.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    """Base URL of a live server over seeds + a hostile document (real embedder)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium missing: apt-get install -y chromium (make test does it)")
    import uvicorn

    from ui.app import create_app

    home = tmp_path_factory.mktemp("web")
    extra = home / "extra"
    extra.mkdir()
    (extra / "tin_doc_hai.txt").write_text(HOSTILE, encoding="utf-8")
    config = Config.from_env(home=home, index_dir=home / "index")
    build_index([default_corpus(), extra], config, embedder)
    engine = QAEngine(config, embedder=embedder).warm_up()
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not srv.started:
        assert time.time() < deadline, "server did not start"
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", home
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


def _new_page(browser, **options):
    options = {"viewport": {"width": 1280, "height": 1000}, "locale": "vi-VN", **options}
    context = browser.new_context(**options)
    context.add_init_script(RECORDER)
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    return pg


@pytest.fixture()
def page(browser):
    pg = _new_page(browser)
    yield pg
    pg.context.close()


# Every text and aria-label/title/placeholder the page ever shows, read just after each DOM
# change (once the page script has marked the page Vietnamese, i.e. once it runs).
RECORDER = """(() => {
  const seen = new Set(); window.__hdSeen = seen;
  const ATTRS = ["aria-label", "title", "placeholder", "alt"];
  const CODE = new Set(["SCRIPT", "STYLE", "TEMPLATE"]);  // not shown to anyone
  const add = (v) => { v = (v || "").trim(); if (v) seen.add(v); };
  const text = (n) => { if (!CODE.has(n.parentElement?.tagName)) add(n.nodeValue); };
  const grab = (root) => {
    if (!root || !root.isConnected) return;
    if (root.nodeType === 3) return text(root);
    if (root.nodeType !== 1 || CODE.has(root.tagName)) return;
    const w = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let n = root; n; n = w.nextNode()) {
      if (n.nodeType === 3) text(n); else ATTRS.forEach((a) => add(n.getAttribute(a)));
    }
  };
  new MutationObserver((records) => {
    if (document.documentElement.lang !== "vi") return;
    const nodes = new Set();
    records.forEach((r) => { nodes.add(r.target); r.addedNodes.forEach((n) => nodes.add(n)); });
    setTimeout(() => nodes.forEach(grab), 0);
  }).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
})();"""
# Words of Gradio's English UI ("Clear", "Copy message", "Scroll down", "processing |",
# "user's message: …", "Loading response", …): none may reach the page.
ENGLISH = re.compile(r"\b(clear|copy|copied|scroll|processing|queue|message|loading|uploading|"
                     r"error|textbox|dropdown|checkbox|remove|submit|retry|undo|chatbot|"
                     r"conversation|select|upload|drop|click|close|download)\b", re.I)


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _ask(page, question: str):
    """Type a question, send it, and return the locator of the newest reply."""
    before = page.locator("#chat .hd-reply").count()
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.locator("#chat .hd-reply").nth(before).wait_for(timeout=120_000)
    page.wait_for_timeout(400)  # let the scroll-to-reply script run
    return page.locator("#chat .hd-reply").nth(before)


def _seed_question() -> tuple[str, str]:
    path = shared_file(SEEDS_QA)
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    return first["question"], first["answers"][0]


def test_home_page_is_vietnamese_with_examples(server, page):
    base, _ = server
    page.goto(base + "/")
    page.get_by_text("Hỏi đáp tài liệu").first.wait_for(timeout=60_000)
    page.get_by_text("Câu hỏi mẫu", exact=True).wait_for(timeout=30_000)
    page.get_by_text("Lọc tài liệu", exact=True).wait_for(timeout=30_000)
    assert page.locator("#ask").inner_text().strip() == "Hỏi"
    assert page.evaluate("document.documentElement.lang") == "vi"
    examples = page.locator("#examples button.hd-example")
    examples.first.wait_for(timeout=30_000)
    assert examples.all_inner_texts() == EXAMPLES  # whole questions, no "…"
    for i in range(examples.count()):  # nothing clipped: the text fits its button
        assert examples.nth(i).evaluate("e => e.scrollWidth <= e.clientWidth + 1 && "
                                        "e.scrollHeight <= e.clientHeight + 1")
    _shot(page, "01-home.png")


def test_example_click_asks_at_once(server, page):
    base, _ = server
    page.goto(base + "/")
    page.locator("#examples button.hd-example").first.click(timeout=60_000)
    reply = page.locator("#chat .hd-reply").first
    reply.wait_for(timeout=120_000)
    assert page.locator("#chat .hd-question").first.inner_text().strip() == EXAMPLES[0]
    assert reply.locator(".hd-answer").inner_text().strip() == SEED_Q[1]
    assert page.locator("#question textarea").input_value() == ""
    _shot(page, "10-example-asked.png")


def test_ask_seed_question_and_open_viewer(server, page):
    base, _ = server
    question, expected = _seed_question()
    page.goto(base + "/")
    page.locator("#question textarea").wait_for(timeout=60_000)
    reply = _ask(page, question)
    assert reply.locator(".hd-answer").inner_text().strip() == expected
    marks = reply.locator(".hd-passage mark")
    assert marks.first.inner_text().strip() == expected
    assert "[1]" in reply.locator(".hd-src-head").first.inner_text()
    _shot(page, "02-answer.png")

    link = reply.locator("a.hd-view").first
    assert link.get_attribute("href").startswith("/viewer/")
    with page.context.expect_page() as popup:
        link.click()
    viewer = popup.value
    viewer.wait_for_load_state()
    hl = viewer.locator("mark#hl")
    assert hl.inner_text() == expected
    viewer.wait_for_timeout(300)
    box = hl.bounding_box()
    assert box is not None and 0 <= box["y"] <= viewer.viewport_size["height"]  # in view
    viewer.screenshot(path=str(ARTIFACTS / "03-viewer.png"))
    assert not page.dialogs


def test_clear_button_empties_history(server, page):
    base, _ = server
    page.goto(base + "/")
    page.locator("#question textarea").wait_for(timeout=60_000)
    _ask(page, "Huyện Chi Lăng có bao nhiêu nhiệm vụ trọng tâm năm 2023 đạt mức hoàn thành "
               "xuất sắc?")
    _ask(page, "Ai là trưởng đoàn công tác của Thường trực Tỉnh ủy làm việc với Huyện ủy "
               "Cao Lộc?")
    assert page.locator("#chat .hd-question").count() == 2  # history kept in the session
    # one clear control: "Xoá hội thoại"; Gradio's own trash icon in the chat is not shown
    labels = page.locator("button:visible").evaluate_all(
        "bs => bs.map(b => (b.getAttribute('aria-label') || b.innerText).trim())")
    assert [t for t in labels if re.match(r"(?i)xoá|clear", t)] == ["Xoá hội thoại"]
    _shot(page, "11-one-clear-control.png")
    page.locator("#clear").click()
    page.wait_for_function("document.querySelectorAll('#chat .hd-reply').length === 0")
    page.wait_for_timeout(500)
    page.reload()  # the stored conversation is cleared too
    page.locator("#question textarea").wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    assert page.locator("#chat .hd-reply").count() == 0
    reply = _ask(page, "Đạt bao nhiêu phần trăm dự toán?")  # no history left to lean on
    assert reply.locator(".hd-understood").count() == 0


def test_reload_keeps_the_conversation_and_its_follow_ups(server, page):
    base, _ = server
    page.goto(base + "/")
    page.locator("#question textarea").wait_for(timeout=60_000)
    _ask(page, CONVERSATION[0][0])
    page.wait_for_timeout(500)
    page.reload()
    page.locator("#chat .hd-reply").first.wait_for(timeout=60_000)  # back from the browser
    assert page.locator("#chat .hd-question").first.inner_text().strip() == CONVERSATION[0][0]
    assert page.locator("#chat .hd-answer").first.inner_text().strip() == CONVERSATION[0][1]
    question, expected, _ = CONVERSATION[1]
    reply = _ask(page, question)  # a follow-up after the reload still uses turn 1
    assert reply.locator(".hd-answer").inner_text().strip() == expected
    assert reply.locator(".hd-understood").inner_text().startswith("Hiểu câu hỏi là:")
    _shot(page, "12-after-reload.png")


CONVERSATION = (  # turns 2 and 3 only make sense after turn 1
    (SEED_Q[0], "452,2 tỷ đồng", False),
    ("Đạt bao nhiêu phần trăm dự toán?", "101,63%", True),
    ("Ai chủ trì buổi làm việc đó?", "Hoàng Văn Nghiệm", True),
)
CAO_LOC_VISIT = "Thường trực Tỉnh ủy làm việc với Huyện ủy Cao Lộc"


def test_three_turn_conversation_uses_the_earlier_turns(server, page):
    base, _ = server
    page.goto(base + "/")
    page.locator("#question textarea").wait_for(timeout=60_000)
    for question, expected, follow_up in CONVERSATION:
        reply = _ask(page, question)
        assert reply.locator(".hd-answer").inner_text().strip() == expected
        assert reply.locator(".hd-passage mark").first.inner_text().strip() == expected
        assert reply.locator(".hd-title").first.inner_text() == CAO_LOC_VISIT
        assert "[1]" in reply.locator(".hd-src-head").first.inner_text()
        understood = reply.locator(".hd-understood")
        assert understood.count() == (1 if follow_up else 0)
        if follow_up:
            assert understood.inner_text().startswith(f"Hiểu câu hỏi là: {question}")
    _shot(page, "09-conversation.png")
    page.locator("#clear").click()  # a fresh conversation: the follow-up stands alone
    page.wait_for_function("document.querySelectorAll('#chat .hd-reply').length === 0")
    reply = _ask(page, CONVERSATION[1][0])
    assert reply.locator(".hd-understood").count() == 0
    assert not page.dialogs


def test_upload_then_ask_about_it(server, page, tmp_path):
    base, home = server
    page.goto(base + "/")
    page.locator("#question textarea").wait_for(timeout=60_000)
    doc = tmp_path / "Cầu treo Đồng Tâm.txt"
    doc.write_text(UPLOAD, encoding="utf-8")
    page.locator("#upload input[type=file], input[type=file]").first.set_input_files(str(doc))
    page.get_by_text("Đã nạp 1 tài liệu mới").wait_for(timeout=180_000)
    _shot(page, "04-upload.png")
    assert (home / "uploads" / "Cau_treo_Dong_Tam.txt").is_file()
    reply = _ask(page, "Cầu treo ở xã Đồng Tâm dài bao nhiêu mét?")
    assert "86 mét" in reply.locator(".hd-answer").inner_text()
    assert reply.locator(".hd-title").first.inner_text() == "Xã Đồng Tâm khánh thành cầu treo"
    _shot(page, "05-upload-answer.png")


def _news_text(target_chars: int) -> str:
    """About ``target_chars`` of VNTC news articles (a long upload)."""
    import gzip

    parts, size = [], 0
    with gzip.open(shared_file("data/vntc_news_train.jsonl.gz"), "rt", encoding="utf-8") as f:
        for line in f:
            parts.append(json.loads(line)["text"])
            size += len(parts[-1])
            if size >= target_chars:
                return "\n\n".join(parts)
    return "\n\n".join(parts)


def test_upload_shows_progress_on_its_panel_and_questions_keep_answering(server, page,
                                                                        tmp_path):
    base, home = server
    page.goto(base + "/")
    page.locator("#question textarea").wait_for(timeout=60_000)
    doc = tmp_path / "Tin tức tổng hợp.txt"
    doc.write_text(BRIDGE_NEWS + "\n\n" + _news_text(60_000), encoding="utf-8")
    page.locator("#upload input[type=file], input[type=file]").first.set_input_files(str(doc))
    bar = page.locator("#upload_status [role=progressbar]")
    bar.wait_for(timeout=60_000)
    page.locator("#upload_status .hd-job-line", has_text="đoạn (").wait_for(timeout=120_000)
    _shot(page, "04b-upload-progress.png")
    line = page.locator("#upload_status .hd-job-line").inner_text()
    assert "1 tệp" in line and "đã chạy" in line
    spinner = "#docs .eta-bar, #docs .progress-text, #docs .meta-text"  # Gradio's tracker
    assert page.locator(spinner).count() == 0  # not over the document filter
    reply = _ask(page, SEED_Q[0])  # answered while the upload is indexed
    assert SEED_Q[1] in reply.locator(".hd-answer").first.inner_text()
    page.get_by_text("Đã nạp 1 tài liệu mới").wait_for(timeout=300_000)
    reply = _ask(page, "Cầu Khuổi Pục ở xã Tân Văn dài bao nhiêu mét?")
    assert "112 mét" in reply.locator(".hd-answer").inner_text()
    _shot(page, "04c-upload-done.png")


def test_hostile_document_shows_as_text(server, page):
    base, _ = server
    page.goto(base + "/")
    page.locator("#question textarea").wait_for(timeout=60_000)
    reply = _ask(page, "Năm 2021 số hộ nghèo của xã Hòa Bình giảm còn bao nhiêu hộ?")
    text = page.locator("#chat").inner_text()
    assert "<script>alert('xss')</script>" in text or "<img src=x onerror=alert(1)>" in text
    assert page.locator("#chat img[src='x']").count() == 0
    assert page.locator("#chat script").count() == 0
    _shot(page, "06-hostile-chat.png")
    href = reply.locator("a.hd-view").first.get_attribute("href")
    page.goto(base + href)
    body = page.locator("main").inner_text()
    assert "<script>alert('xss')</script>" in body and "<img src=x onerror=alert(1)>" in body
    assert page.locator("main img").count() == 0
    _shot(page, "07-hostile-viewer.png")
    page.wait_for_timeout(500)
    assert page.dialogs == []


def test_unanswerable_question_says_so(server, page):
    base, _ = server
    page.goto(base + "/")
    page.locator("#question textarea").wait_for(timeout=60_000)
    reply = _ask(page, "Dân số của thành phố Paris năm 2020 là bao nhiêu người?")
    assert "Không tìm thấy câu trả lời trong tài liệu" in reply.inner_text()
    assert reply.locator(".hd-source").count() >= 1  # the closest passages are shown
    assert reply.locator("mark").count() == 0


def test_filters_limit_the_sources(server, page):
    base, _ = server
    page.goto(base + "/")
    page.locator("#question textarea").wait_for(timeout=60_000)
    page.locator("#filters").get_by_text("Lọc tài liệu").click()  # collapsed at first
    page.locator("#docs input").first.click()
    options = page.locator("[role=option]")
    options.first.wait_for(timeout=30_000)
    assert options.count() >= 6  # the seeds and the hostile document are listed
    page.keyboard.press("Escape")
    page.locator("#date_from_pick").click()  # the calendar beside "Từ ngày"
    page.locator("#date_from_native").fill("2022-01-01")  # what the native picker sets
    date_from = page.locator("#date_from textarea, #date_from input").first
    assert date_from.input_value() == "01/01/2022"  # shown as the page shows dates
    _shot(page, "13-date-picker.png")
    page.locator("#date_to textarea, #date_to input").first.fill("2022-12-31")
    reply = _ask(page, "Tổng thu ngân sách năm 2020 là bao nhiêu?")
    dates = [t.split("·")[1].strip() for t in reply.locator(".hd-src-head").all_inner_texts()]
    assert dates and all(d.endswith("/2022") for d in dates)
    _shot(page, "08-filtered.png")



def test_api_docs_render_offline(server, page):
    """/docs (swagger-ui 5, served from the package) renders the OpenAPI 3.1 schema."""
    base, _ = server
    external = []
    page.on("request", lambda r: external.append(r.url) if not r.url.startswith(base) else None)
    page.goto(base + "/docs")
    page.locator(".opblock").first.wait_for(timeout=30_000)
    text = page.locator("#swagger-ui").inner_text()
    _shot(page, "api_docs.png")
    assert "Unable to render" not in text
    for path in ("/api/ask", "/api/search", "/api/documents", "/api/health"):
        assert path in text
    assert not [u for u in external if not u.startswith("data:")], external


def _english(page) -> list[str]:
    """What the page showed (texts, aria-labels, titles, placeholders) in Gradio's English."""
    seen = page.evaluate("[...window.__hdSeen]")
    return sorted(s for s in seen if ENGLISH.search(s))


def test_gradio_strings_are_vietnamese_in_text_labels_and_tooltips(server, page):
    """Ask, follow up, hover, scroll, filter, clear: nothing of Gradio's English shows."""
    base, _ = server
    page.goto(base + "/")
    page.locator("#question textarea").wait_for(timeout=60_000)
    _ask(page, CONVERSATION[0][0])
    _ask(page, CONVERSATION[1][0])
    page.locator("#chat .hd-reply").first.hover()
    page.locator("#chat [role=log]").evaluate(  # scroll the chat up: "scroll down" appears
        "log => { for (let e = log; e; e = e.parentElement) e.scrollTop = 0; "
        "log.querySelectorAll('*').forEach(e => { e.scrollTop = 0; }); }")
    page.locator("#chat .hd-question").first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    _shot(page, "14-vietnamese-ui.png")
    assert page.locator("#chat [role=log]").get_attribute("aria-label") == "Hội thoại"
    copy = page.locator("#chat button[aria-label='Sao chép câu trả lời']")
    assert copy.count() >= 2 and copy.first.get_attribute("title") == "Sao chép câu trả lời"
    label = page.locator("#chat [aria-label^='Câu hỏi: ']").first.get_attribute("aria-label")
    assert label == f"Câu hỏi: {CONVERSATION[0][0]}"  # the message's text, not its HTML
    page.locator("#filters").get_by_text("Lọc tài liệu").click()
    page.locator("#docs input").first.click()
    page.locator("[role=option]").first.click()
    page.keyboard.press("Escape")
    page.locator("#clear").click()
    page.wait_for_timeout(500)
    seen = page.evaluate("[...window.__hdSeen]")
    assert "đang xử lý |" in seen or any(s.startswith("hàng đợi: ") for s in seen)  # status
    assert _english(page) == []


def test_phone_width_keeps_the_input_on_screen_and_usable(server, browser):
    """390 px wide (a phone): the question box and "Hỏi" are on screen without scrolling,
    nothing scrolls sideways, and a question typed there is answered."""
    base, _ = server
    page = _new_page(browser, viewport={"width": 390, "height": 844}, is_mobile=True,
                     has_touch=True, device_scale_factor=2)
    try:
        page.goto(base + "/")
        box, send = page.locator("#question textarea"), page.locator("#ask")
        box.wait_for(timeout=60_000)
        page.wait_for_timeout(500)

        def on_screen(loc) -> bool:
            b = loc.bounding_box()
            return b is not None and b["x"] >= 0 and b["y"] >= 0 and \
                b["x"] + b["width"] <= 390 and b["y"] + b["height"] <= 844

        assert on_screen(box) and on_screen(send)
        assert box.bounding_box()["width"] >= 200  # room to type
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        _shot(page, "15-phone-390.png")
        box.tap()
        box.fill(SEED_Q[0])
        send.tap()
        reply = page.locator("#chat .hd-reply").first
        reply.wait_for(timeout=120_000)
        page.wait_for_timeout(500)
        assert reply.locator(".hd-answer").inner_text().strip() == SEED_Q[1]
        assert on_screen(box) and on_screen(send)  # still there for the next question
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(ARTIFACTS / "16-phone-390-answer.png"))  # what is on screen
        assert _english(page) == []
    finally:
        page.context.close()


LAYERS = """e => { const out = [];
  for (let n = e; n; n = n.parentElement) {
    const s = getComputedStyle(n); out.push([s.backgroundColor, parseFloat(s.opacity)]); }
  return {color: getComputedStyle(e).color, layers: out}; }"""


def test_dark_mode_highlighted_answer_is_readable(server, browser):
    """With the browser in dark mode the highlighted answer, the marked span in the
    passage and the small print keep a WCAG contrast of at least 4.5:1 as painted."""
    base, _ = server
    page = _new_page(browser, color_scheme="dark")
    try:
        page.goto(base + "/")
        page.locator("#question textarea").wait_for(timeout=60_000)
        reply = _ask(page, CONVERSATION[0][0])
        reply = _ask(page, CONVERSATION[1][0])
        assert page.evaluate("document.body.classList.contains('dark')")
        for selector in (".hd-answer", ".hd-passage mark", ".hd-score", ".hd-understood",
                         ".hd-passage"):
            styles = reply.locator(selector).first.evaluate(LAYERS)
            ratio = painted_contrast(styles["color"], [(bg, op) for bg, op in styles["layers"]])
            assert ratio >= 4.5, (selector, ratio, styles["color"], styles["layers"][:3])
        _shot(page, "17-dark-mode.png")
    finally:
        page.context.close()
