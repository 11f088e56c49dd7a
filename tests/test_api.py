"""REST API, viewer, chat handlers and ``hoidap serve`` on a tiny index (fake embedder)."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hoidap.cli import build_parser
from hoidap.config import Config
from qa.engine import QAEngine
from qa.search.write import build_index
from tests.fakes import HashEmbedder
from ui.app import create_app
from ui.chat import add_documents, converse, document_choices, respond, upload_name
from ui.serve import prepare_engine

DOCS = {
    "cao_loc.txt": (
        "Huyện ủy Cao Lộc tổng kết năm 2020\n\n24/09/2021 07:00\n\n"
        "Tổng thu ngân sách Nhà nước trên địa bàn huyện năm 2020 ước đạt 452,2 tỷ đồng, "
        "tăng 3,5% so với cùng kỳ. Tổng sản lượng lương thực có hạt ước đạt 24.236 tấn.\n\n"
        "Hai xã Xuất Lễ và Tân Liên dự kiến đạt chuẩn nông thôn mới ở cuối năm."),
    "chi_lang.txt": (
        "15/10/2023 08:00\n\nHội nghị Ban Chấp hành Đảng bộ huyện Chi Lăng\n\n"
        "Năm 2023 huyện Chi Lăng có 13/18 nhiệm vụ trọng tâm đạt mức hoàn thành xuất sắc. "
        "Giá trị sản xuất công nghiệp đạt 2.351 tỷ đồng."),
    "doc_hai.txt": (
        "Bài viết có mã độc trong nội dung\n\n01/03/2022 09:15\n\n"
        "Xã Hòa Bình báo cáo <script>alert('xss')</script> và <img src=x onerror=alert(1)> "
        "về số hộ nghèo giảm còn 120 hộ."),
}
QUESTION = "Tổng thu ngân sách Nhà nước trên địa bàn huyện năm 2020 ước đạt bao nhiêu?"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("docs")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def engine(tmp_path_factory, corpus) -> QAEngine:
    home = tmp_path_factory.mktemp("home")
    config = Config.from_env(home=home, index_dir=home / "index")
    build_index([corpus], config, HashEmbedder())
    return QAEngine(config, embedder=HashEmbedder())


@pytest.fixture(scope="module")
def client(engine) -> TestClient:
    return TestClient(create_app(engine, with_ui=False), raise_server_exceptions=False)


def _no_trace(resp) -> None:
    assert "Traceback" not in resp.text and 'File "' not in resp.text


# -- /api/health, /api/documents ------------------------------------------------------------
def test_health(client, engine):
    resp = client.get("/api/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok" and body["documents"] == 3
    assert body["chunks"] == len(engine.index.chunks) > 0


def test_documents_list_has_metadata_without_text(client):
    resp = client.get("/api/documents")
    assert resp.status_code == 200
    docs = {d["doc_id"]: d for d in resp.json()}
    assert set(docs) == {"cao_loc", "chi_lang", "doc_hai"}
    assert all("text" not in d for d in docs.values())
    assert docs["cao_loc"]["date"] == "2021-09-24"
    assert docs["chi_lang"]["title"] == "Hội nghị Ban Chấp hành Đảng bộ huyện Chi Lăng"


def test_document_has_cleaned_text(client, engine):
    resp = client.get("/api/documents/cao_loc")
    assert resp.status_code == 200
    body = resp.json()
    assert body["text"] == engine.document("cao_loc").text and "452,2 tỷ đồng" in body["text"]


def test_unknown_document_is_404_with_message(client):
    resp = client.get("/api/documents/khong_co")
    assert resp.status_code == 404
    assert "khong_co" in resp.json()["message"]
    _no_trace(resp)


# -- /api/ask -------------------------------------------------------------------------------
def test_ask_returns_the_cli_json_contract(client, engine):
    resp = client.post("/api/ask", json={"question": QUESTION, "k": 3})
    assert resp.status_code == 200
    body = resp.json()
    assert body == engine.ask(QUESTION, k=3).to_dict()
    assert set(body) == {"question", "understood", "no_answer", "vague", "clarification",
                         "answers", "passages", "undated_excluded"}
    assert body["understood"] is None  # no history
    assert 0 < len(body["passages"]) <= 3
    assert body["passages"][0]["doc_id"] == "cao_loc"


def test_ask_answers_carry_calibrated_confidence(client):
    body = client.post("/api/ask", json={"question": QUESTION}).json()
    assert body["answers"] and body["vague"] is False and body["clarification"] is None
    for ans in body["answers"]:
        assert 0.0 <= ans["confidence"] <= 1.0 and 0.0 <= ans["score"] <= 1.0
        assert ans["confidence_level"] in {"high", "medium", "low"}


def test_without_a_calibration_table_answers_say_so(engine, tmp_path, caplog):
    from dataclasses import replace

    reader = replace(engine.config.reader, calibration_file=tmp_path / "none.json")
    bare = QAEngine(replace(engine.config, reader=reader), embedder=HashEmbedder())
    with caplog.at_level("WARNING"):
        best = bare.ask(QUESTION).answers[0]
    assert best.confidence is None and best.confidence_level is None and best.score > 0
    assert "none.json" in caplog.text and "calibrate_confidence" in caplog.text


def test_ask_vague_question_asks_to_be_specific(client):
    body = client.post("/api/ask", json={"question": "Kết quả thế nào?"}).json()
    assert body["vague"] is True and body["no_answer"] is True and body["answers"] == []
    assert body["clarification"].startswith("Câu hỏi chưa rõ: bạn muốn hỏi kết quả")
    # After a turn about a topic the same words are a follow-up, answered from that topic.
    follow = client.post("/api/ask", json={"question": "Kết quả thế nào?", "history": [
        {"question": QUESTION, "answer": "452,2 tỷ đồng"}]}).json()
    assert follow["vague"] is False and follow["clarification"] is None
    assert follow["understood"].startswith("Kết quả thế nào? (ngữ cảnh: ")
    assert follow["passages"][0]["doc_id"] == "cao_loc"


def test_ask_answer_is_a_verbatim_span(client, engine):
    body = client.post("/api/ask", json={"question": QUESTION}).json()
    for ans in body["answers"]:
        c = ans["citation"]
        assert engine.document(c["doc_id"]).text[c["start"]:c["end"]] == ans["text"]


def test_ask_normalises_nfd_question(client):
    nfd = unicodedata.normalize("NFD", QUESTION)
    body = client.post("/api/ask", json={"question": nfd}).json()
    assert body["question"] == QUESTION


def test_ask_filters_by_document_and_date(client):
    only = client.post("/api/ask", json={"question": QUESTION, "doc_ids": ["chi_lang"]}).json()
    assert {p["doc_id"] for p in only["passages"]} == {"chi_lang"}
    dated = client.post("/api/ask", json={"question": QUESTION, "date_from": "2022-01-01",
                                          "date_to": "2022-12-31"}).json()
    assert {p["doc_id"] for p in dated["passages"]} == {"doc_hai"}


@pytest.mark.parametrize("body, needle", [
    ({"question": "   "}, "empty"),
    ({}, "question"),
    ({"question": QUESTION, "k": 0}, "k must be"),
    ({"question": QUESTION, "k": "năm"}, "k"),
    ({"question": QUESTION, "date_from": "24/09/2021"}, "date_from"),
    ({"question": QUESTION, "date_from": "2023-01-01", "date_to": "2020-01-01"}, "swap"),
    ({"question": QUESTION, "doc_ids": ["khong_co"]}, "khong_co"),
    ({"question": QUESTION, "extra": 1}, "extra"),
    ({"question": "ở\x00xã"}, "control"),
])
def test_ask_rejects_bad_input_with_422_and_message(client, body, needle):
    resp = client.post("/api/ask", json=body)
    assert resp.status_code == 422
    assert needle in resp.json()["message"]
    _no_trace(resp)


FOLLOW_UP = "Đạt bao nhiêu tỷ đồng?"
CHI_LANG = "Năm 2023 huyện Chi Lăng có bao nhiêu nhiệm vụ trọng tâm đạt mức hoàn thành xuất sắc?"
TURN = {"question": CHI_LANG, "answer": "13/18"}


def test_ask_with_history_reads_a_follow_up_in_the_cited_document(client, engine):
    alone = client.post("/api/ask", json={"question": FOLLOW_UP}).json()
    assert alone["understood"] is None and alone["passages"][0]["doc_id"] == "cao_loc"
    resp = client.post("/api/ask", json={"question": FOLLOW_UP, "history": [TURN]})
    assert resp.status_code == 200
    body = resp.json()
    assert body["understood"].startswith(FOLLOW_UP + " (ngữ cảnh: ")
    assert body["passages"][0]["doc_id"] == "chi_lang"
    assert body["answers"][0]["text"] == "2.351 tỷ đồng"
    assert body == engine.ask(FOLLOW_UP, history=[TURN]).to_dict()
    with_doc = client.post("/api/ask", json={"question": FOLLOW_UP, "history": [
        {**TURN, "answer": "", "doc_id": "chi_lang"}]}).json()
    assert with_doc["answers"][0]["text"] == "2.351 tỷ đồng"


def test_ask_with_history_keeps_a_new_topic_alone(client):
    body = client.post("/api/ask", json={"question": QUESTION, "history": [TURN]}).json()
    assert body["understood"] is None and body["passages"][0]["doc_id"] == "cao_loc"
    assert body["answers"][0]["text"] == "452,2 tỷ đồng"


@pytest.mark.parametrize("history, needle", [
    ({"question": QUESTION}, "history: Input should be a valid list"),
    (["câu hỏi"], "history.0"),
    ([{"answer": "452,2 tỷ đồng"}], "history.0.question: Field required"),
    ([{"question": QUESTION, "answer": 3}], "history.0.answer"),
    ([{"question": QUESTION, "role": "user"}], "history.0.role"),
    ([TURN] * 21, "history: List should have at most 20 items"),
    ([{"question": QUESTION, "answer": "x" * 4000}], "history[0] has"),
    ([{"question": "   "}], "history[0].question must be a non-empty string"),
])
def test_ask_rejects_bad_history_with_422_and_message(client, history, needle):
    resp = client.post("/api/ask", json={"question": FOLLOW_UP, "history": history})
    assert resp.status_code == 422
    assert needle in resp.json()["message"], resp.json()["message"]
    _no_trace(resp)


def test_ask_rejects_non_json_body(client):
    resp = client.post("/api/ask", content=b"{not json", headers={"content-type":
                                                                    "application/json"})
    assert resp.status_code == 422 and resp.json()["message"]


# -- /api/search ----------------------------------------------------------------------------
def test_search_returns_query_and_passages(client, engine):
    resp = client.post("/api/search", json={"query": "nhiệm vụ trọng tâm Chi Lăng", "k": 2})
    assert resp.status_code == 200
    body = resp.json()
    assert body["question"] == body["query"] == "nhiệm vụ trọng tâm Chi Lăng"
    assert len(body["passages"]) == 2 and body["passages"][0]["doc_id"] == "chi_lang"
    p = body["passages"][0]
    assert engine.document(p["doc_id"]).text[p["start"]:p["end"]] == p["text"]


def test_search_modes_and_bad_mode(client):
    for mode in ("bm25", "dense", "hybrid"):
        assert client.post("/api/search", json={"query": "hộ nghèo", "mode": mode}).status_code \
            == 200
    resp = client.post("/api/search", json={"query": "hộ nghèo", "mode": "magic"})
    assert resp.status_code == 422 and "mode" in resp.json()["message"]


# -- errors that are not the user's fault -----------------------------------------------------
def test_missing_index_is_503_with_message(tmp_path):
    config = Config.from_env(home=tmp_path, index_dir=tmp_path / "none")
    app = create_app(QAEngine(config, embedder=HashEmbedder()), with_ui=False)
    resp = TestClient(app).get("/api/health")
    assert resp.status_code == 503
    assert "no index" in resp.json()["message"]


class _Broken(QAEngine):
    def ask(self, *args, **kwargs):
        raise RuntimeError("secret internal detail /etc/passwd")


def test_unexpected_error_is_generic_500_without_details(engine):
    broken = _Broken(engine.config, embedder=HashEmbedder())
    client = TestClient(create_app(broken, with_ui=False), raise_server_exceptions=False)
    resp = client.post("/api/ask", json={"question": QUESTION})
    assert resp.status_code == 500
    assert resp.json()["error"] == "InternalError"
    assert "secret" not in resp.text and "RuntimeError" not in resp.text
    _no_trace(resp)


# -- viewer, docs -----------------------------------------------------------------------------
def test_viewer_escapes_hostile_text_and_marks_span(client, engine):
    text = engine.document("doc_hai").text
    s = text.index("120 hộ")
    resp = client.get(f"/viewer/doc_hai?start={s}&end={s + 6}")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    assert "<script>alert" not in resp.text and "<img" not in resp.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in resp.text
    assert '<mark id="hl">120 hộ</mark>' in resp.text
    assert "script-src 'sha256-" in resp.headers["content-security-policy"]


def test_viewer_errors(client):
    assert client.get("/viewer/khong_co").status_code == 404
    resp = client.get("/viewer/cao_loc?start=5&end=999999")
    assert resp.status_code == 422 and "outside" in resp.json()["message"]
    assert client.get("/viewer/cao_loc?start=-1&end=3").status_code == 422
    assert "<mark" not in client.get("/viewer/cao_loc").text


def test_openapi_docs(client):
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/ask", "/api/search", "/api/documents", "/api/documents/{doc_id}",
            "/api/health"} <= set(paths)


def test_chat_page_is_mounted_at_root(engine):
    client = TestClient(create_app(engine))
    resp = client.get("/")
    assert resp.status_code == 200 and "text/html" in resp.headers["content-type"]
    assert client.get("/api/health").json()["status"] == "ok"


# -- chat handlers ----------------------------------------------------------------------------
def test_respond_appends_escaped_question_and_reply(engine):
    history = respond(engine, "Xã <b>Hòa Bình</b> còn bao nhiêu hộ nghèo?", [])
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert "&lt;b&gt;Hòa Bình&lt;/b&gt;" in history[0]["content"]
    assert "<script>" not in history[1]["content"] and "<img" not in history[1]["content"]
    again = respond(engine, QUESTION, history, ["cao_loc"], "", "")
    assert len(again) == 4 and again[:2] == history


def test_converse_keeps_raw_turns_and_says_how_a_follow_up_was_understood(engine):
    messages, turns = converse(engine, CHI_LANG, [], [])
    assert turns[0].question == CHI_LANG and turns[0].answer.startswith("13/18")
    assert turns[0].doc_id == "chi_lang"
    messages, turns = converse(engine, FOLLOW_UP, messages, turns)
    assert len(messages) == 4 and len(turns) == 2
    reply = messages[-1]["content"]
    assert "Hiểu câu hỏi là:" in reply and "2.351 tỷ đồng" in reply
    assert "Hiểu câu hỏi là" not in messages[1]["content"]  # the first turn stood alone
    assert converse(engine, "  ", messages, turns) == (messages, turns)
    # respond() answers each question alone, as before
    alone = respond(engine, FOLLOW_UP, [])[-1]["content"]
    assert "Hiểu câu hỏi là" not in alone and "452,2 tỷ đồng" in alone


def test_respond_shows_engine_errors_in_the_chat(engine):
    history = respond(engine, QUESTION, [], None, "2023-01-01", "2020-01-01")
    assert "Không xử lý được" in history[1]["content"] and "đổi chỗ" in history[1]["content"]
    assert respond(engine, "   ", history) == history


def test_upload_name_is_safe():
    assert upload_name("../../etc/Báo cáo tháng 3.TXT", set()) == "Bao_cao_thang_3.txt"
    assert "/" not in upload_name("a/../../b.md", set())
    renamed = upload_name("cao_loc.txt", {"cao_loc"})
    assert renamed.startswith("cao_loc-") and renamed.endswith(".txt")


def test_upload_is_indexed_and_answerable(tmp_path, corpus):
    config = Config.from_env(home=tmp_path, index_dir=tmp_path / "index")
    build_index([corpus], config, HashEmbedder())
    engine = QAEngine(config, embedder=HashEmbedder())
    engine.search("ngân sách")  # load the old index first: the update must swap it
    new = tmp_path / "incoming" / "Thông báo xã Đồng Tâm.md"
    new.parent.mkdir()
    new.write_text("# Xã Đồng Tâm khánh thành cầu treo\n\nCầu treo dài 86 mét được "
                   "khánh thành ngày 2/9 với tổng vốn 3,5 tỷ đồng.", encoding="utf-8")
    clash = tmp_path / "incoming" / "cao_loc.txt"
    clash.write_text("Một tài liệu khác trùng tên tệp với tài liệu đã có.", encoding="utf-8")
    seen: list[tuple[str, int, int]] = []
    bad = tmp_path / "incoming" / "script.exe"
    bad.write_bytes(b"MZ")
    message = add_documents(engine, [str(new), str(clash), str(bad)], tmp_path / "uploads",
                            lambda *a: seen.append(a))
    assert "Đã nạp 2 tài liệu mới" in message and "script.exe" in message
    assert seen and seen[-1][1] == seen[-1][2]
    ids = {d for _, d in document_choices(engine)}
    assert "Thong_bao_xa_Dong_Tam" in ids and "cao_loc" in ids and len(ids) == 5
    assert engine.document("cao_loc").text.startswith("Huyện ủy")  # not replaced
    saved = engine.document("Thong_bao_xa_Dong_Tam")
    assert Path(saved.source).parent == (tmp_path / "uploads").resolve()
    hits = engine.search("cầu treo Đồng Tâm dài bao nhiêu mét", k=1)
    assert hits[0].doc_id == "Thong_bao_xa_Dong_Tam"
    assert add_documents(engine, [], tmp_path / "uploads") == "Chưa chọn tệp nào."


# -- hoidap serve -----------------------------------------------------------------------------
def test_serve_is_registered_with_defaults():
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.index) == ("127.0.0.1", 7860, None)
    args = build_parser().parse_args(["serve", "--port", "8001", "--index", "/tmp/x"])
    assert (args.port, args.index) == (8001, "/tmp/x") and callable(args.func)


def test_prepare_engine_builds_seed_index_when_missing(tmp_path):
    config = Config.from_env(home=tmp_path, index_dir=tmp_path / "index")
    engine = prepare_engine(config, embedder=HashEmbedder())
    assert len(engine.documents()) == 5
    again = prepare_engine(config, embedder=HashEmbedder())  # existing index: no rebuild
    assert again.embedder.calls == 0


def test_docs_are_served_without_a_cdn(client):
    page = client.get("/docs")
    assert page.status_code == 200
    assert "/docs-assets/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/openapi.json").json()["paths"]["/api/ask"]


def test_question_is_the_field_on_every_endpoint_and_query_an_alias(client):
    new = client.post("/api/search", json={"question": "hộ nghèo", "k": 2})
    old = client.post("/api/search", json={"query": "hộ nghèo", "k": 2})
    assert new.status_code == old.status_code == 200
    assert new.json() == old.json()
    asked = client.post("/api/ask", json={"query": QUESTION, "k": 2})
    assert asked.status_code == 200 and asked.json()["question"] == QUESTION
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("AskRequest", "SearchRequest"):
        assert "question" in schema[name]["properties"], schema[name]
        assert schema[name].get("examples"), name


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", "/api/search", {"q": "x"}),
    ("post", "/api/ask", {"question": ""}),
    ("post", "/api/ask", {"question": "x", "date_from": "24/09/2021"}),
    ("get", "/api/documents/khong_co", None),
    ("get", "/api/khong_co", None),
    ("delete", "/api/ask", None),
])
def test_every_error_body_has_the_same_shape(client, method, path, body):
    resp = getattr(client, method)(path, **({"json": body} if body is not None else {}))
    assert resp.status_code >= 400
    assert set(resp.json()) == {"error", "message"} and resp.json()["message"]


def test_date_filter_counts_undated_documents_and_can_include_them(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "co_ngay.txt").write_text(
        "Huyện tổng kết công tác năm 2021\n\nSáng 20/12/2021, huyện tổng kết. Thu ngân sách "
        "năm 2021 đạt 620 tỷ đồng.", encoding="utf-8")
    (folder / "khong_ngay.txt").write_text(
        "Huyện hoàn thành mục tiêu kép\n\nThu ngân sách nhà nước năm 2021 ước đạt 275 tỷ "
        "đồng trong 6 tháng đầu năm.", encoding="utf-8")
    config = Config.from_env(home=tmp_path, index_dir=tmp_path / "index")
    build_index([folder], config, HashEmbedder())
    api = TestClient(create_app(QAEngine(config, embedder=HashEmbedder()), with_ui=False))
    body = {"question": "Thu ngân sách năm 2021", "date_from": "2021-01-01",
            "date_to": "2021-12-31"}
    for path in ("/api/ask", "/api/search"):
        dated = api.post(path, json=body).json()
        assert dated["undated_excluded"] == 1
        assert {p["doc_id"] for p in dated["passages"]} == {"co_ngay"}
        both = api.post(path, json={**body, "include_undated": True}).json()
        assert both["undated_excluded"] == 0
        assert {p["doc_id"] for p in both["passages"]} == {"co_ngay", "khong_ngay"}
    plain = api.post("/api/ask", json={"question": "Thu ngân sách năm 2021"}).json()
    assert plain["undated_excluded"] == 0
