"""Security: API token, rate limit, upload limits, no path traversal, escaped output."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hoidap.config import Config, LimitsConfig
from qa.engine import QAEngine
from qa.search.write import build_index
from tests.fakes import HashEmbedder
from ui.app import create_app
from ui.chat import add_documents
from ui.security import MAX_FILES_PER_UPLOAD, TokenBucket, safe_next, session_value
from ui.uploads import UploadTypeError, accepted_types, check_type, upload_name

TOKEN = "s3cret-Token_42"
QUESTION = "Tỷ lệ hộ nghèo của huyện còn bao nhiêu?"
DOC = ("15/10/2020 08:00\n\nHuyện Ba Chẽ họp Ban Chấp hành <script>alert(1)</script>\n\n"
       "Tỷ lệ hộ nghèo của huyện còn 1,29%. <iframe src=javascript:alert(2)></iframe>")
TRAVERSALS = ["..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%2Fetc%2Fpasswd",
              "..", "%2e%2e", "ba_che%00.txt", "..%5c..%5cwindows", "%252e%252e%252fetc"]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Config:
    root = tmp_path_factory.mktemp("sec")
    (root / "docs").mkdir()
    (root / "docs" / "ba_che.txt").write_text(DOC, encoding="utf-8")
    config = Config(home=root, index_dir=root / "index")
    build_index([root / "docs"], config, HashEmbedder())
    return config


def _client(config: Config, ui: bool = False, **limits: object) -> TestClient:
    config = replace(config, limits=replace(config.limits, **limits))
    app = create_app(QAEngine(config, embedder=HashEmbedder()), with_ui=ui,
                     uploads_dir=config.home / "uploads")
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


# -- API token --------------------------------------------------------------------------------
def test_token_required_for_api(base):
    client = _client(base, api_token=TOKEN)
    for method, path in [("post", "/api/ask"), ("post", "/api/search"), ("get", "/api/health"),
                         ("get", "/api/documents"), ("get", "/api/documents/ba_che"),
                         ("post", "/api/documents"), ("get", "/openapi.json")]:
        resp = getattr(client, method)(path)
        assert resp.status_code == 401, path
        assert resp.headers["www-authenticate"].startswith("Bearer")
        assert "Authorization: Bearer" in resp.json()["message"]
    wrong = {"authorization": "Bearer nope"}
    assert client.post("/api/ask", json={"question": QUESTION}, headers=wrong).status_code == 401
    basic = {"authorization": f"Basic {TOKEN}"}
    assert client.post("/api/ask", json={"question": QUESTION}, headers=basic).status_code == 401
    good = {"authorization": f"Bearer {TOKEN}"}
    resp = client.post("/api/ask", json={"question": QUESTION}, headers=good)
    assert resp.status_code == 200 and resp.json()["passages"]


def test_no_token_configured_means_open(base):
    assert _client(base).get("/api/health").status_code == 200


def test_browser_is_sent_to_login_and_cookie_works(base):
    client = _client(base, api_token=TOKEN)
    resp = client.get("/viewer/ba_che?start=0&end=4", headers={"accept": "text/html"})
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("/login?next=%2Fviewer%2Fba_che")
    form = client.get(resp.headers["location"])
    assert form.status_code == 200 and 'name="token"' in form.text
    assert "default-src 'none'" in form.headers["content-security-policy"]
    bad = client.post("/login", data={"token": "sai", "next": "/viewer/ba_che"})
    assert bad.status_code == 401 and "không đúng" in bad.text
    ok = client.post("/login", data={"token": TOKEN, "next": "/viewer/ba_che"})
    assert ok.status_code == 303 and ok.headers["location"] == "/viewer/ba_che"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    assert client.get("/viewer/ba_che").status_code == 200  # the client kept the cookie
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200


def test_login_never_redirects_off_site():
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:x"):
        assert safe_next(target) == "/"
    assert safe_next("/viewer/a?start=1") == "/viewer/a?start=1"
    assert session_value("a") != session_value("b") and "a" not in session_value("a")[:0] + "x"


def test_token_protects_the_gradio_page_and_its_upload_route(base):
    client = _client(base, ui=True, api_token=TOKEN)
    assert client.get("/", headers={"accept": "text/html"}).status_code == 303
    resp = client.post("/gradio_api/upload", files={"files": ("a.txt", b"x", "text/plain")})
    assert resp.status_code == 401
    client.post("/login", data={"token": TOKEN, "next": "/"})
    assert client.get("/").status_code == 200


# -- rate limit -------------------------------------------------------------------------------
def test_token_bucket_refills():
    now = [0.0]
    bucket = TokenBucket(60, clock=lambda: now[0])  # one a second, bursts of 60
    assert all(bucket.take("a") == 0.0 for _ in range(60))
    assert bucket.take("a") == pytest.approx(1.0)
    assert bucket.take("b") == 0.0  # per client
    now[0] += 2.0
    assert bucket.take("a") == 0.0 and bucket.take("a") == 0.0 and bucket.take("a") > 0


def test_rate_limit_gives_429_with_retry_after(base):
    client = _client(base, rate_limit=3)
    codes = [client.post("/api/ask", json={"question": QUESTION}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    resp = client.post("/api/ask", json={"question": QUESTION})
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1
    assert "HOIDAP_RATE_LIMIT" in resp.json()["message"]
    assert client.get("/api/documents").status_code == 200  # only queries are limited
    unlimited = _client(base, rate_limit=0)
    assert {unlimited.post("/api/ask", json={"question": QUESTION}).status_code
            for _ in range(10)} == {200}


def test_oversized_json_body_is_413(base):
    client = _client(base)
    resp = client.post("/api/ask", content=b'{"question": "' + b"a" * 2_000_000 + b'"}',
                       headers={"content-type": "application/json"})
    assert resp.status_code == 413 and "limit" in resp.json()["message"]


# -- path traversal -----------------------------------------------------------------------------
@pytest.mark.parametrize("bad", TRAVERSALS)
def test_documents_and_viewer_serve_only_indexed_documents(base, bad):
    client = _client(base, ui=True)
    for prefix in ("/api/documents/", "/viewer/", "/gradio_api/file=", "/file="):
        resp = client.get(prefix + bad)
        normalised = not resp.request.url.path.startswith(prefix.rstrip("="))  # "/viewer/.."
        assert normalised or resp.status_code in (400, 403, 404, 405, 422), (prefix + bad,
                                                                              resp.status_code)
        assert "root:" not in resp.text and "Traceback" not in resp.text
    resp = client.get("/gradio_api/file=/etc/passwd")
    assert resp.status_code >= 400 and "root:" not in resp.text


@pytest.mark.parametrize("name", ["../../evil.txt", "%2e%2e%2fevil.txt", "/etc/evil.txt",
                                  "..\\..\\evil.txt", "a\x00b.txt", "..txt", "....txt"])
def test_upload_names_stay_in_the_uploads_folder(tmp_path, name):
    folder = tmp_path / "uploads"
    folder.mkdir()
    safe = upload_name(name, set())
    assert "/" not in safe and "\\" not in safe and "\x00" not in safe
    assert not safe.startswith(".") and (folder / safe).resolve().parent == folder.resolve()


def test_rest_upload_indexes_and_keeps_names_inside(base, tmp_path):
    config = replace(base, index_dir=tmp_path / "index", home=tmp_path)
    build_index([Path(base.home) / "docs"], config, HashEmbedder())
    client = _client(config)
    files = [("files", ("../../Báo cáo xã Đồng Tâm.txt",
                        "Xã Đồng Tâm khánh thành cầu treo\n\nCầu treo dài 86 mét.".encode(),
                        "text/plain")),
             ("files", ("/etc/passwd.md", b"# Tin ngan\n\nXa Dong Tam co 120 ho ngheo.",
                        "text/markdown"))]
    resp = client.post("/api/documents", files=files)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["saved"] == ["Bao_cao_xa_Dong_Tam.txt", "passwd.md"]
    assert sorted(body["added"]) == ["Bao_cao_xa_Dong_Tam", "passwd"]
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == sorted(body["saved"])
    assert not (tmp_path.parent / "Báo cáo xã Đồng Tâm.txt").exists()
    hits = client.post("/api/search", json={"query": "cầu treo Đồng Tâm", "k": 1}).json()
    assert hits["passages"][0]["doc_id"] == "Bao_cao_xa_Dong_Tam"


def test_rest_upload_type_and_size_limits(base, tmp_path):
    config = replace(base, home=tmp_path)
    client = _client(config, max_upload_mb=0.01, upload_types=(".txt",))
    resp = client.post("/api/documents", files={"files": ("x.exe", b"MZ", "application/x")})
    assert resp.status_code == 415 and ".txt" in resp.json()["message"]
    resp = client.post("/api/documents", files={"files": ("r.pdf", b"%PDF", "application/pdf")})
    assert resp.status_code == 415 and "HOIDAP_UPLOAD_TYPES" in resp.json()["message"]
    big = ("Một dòng văn bản. " * 2000).encode()
    resp = client.post("/api/documents", files={"files": ("big.txt", big, "text/plain")})
    assert resp.status_code == 413 and "HOIDAP_MAX_UPLOAD_MB" in resp.json()["message"]
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def test_accepted_upload_types_are_allowed_and_readable():
    limits = LimitsConfig(upload_types=(".pdf", ".rtf", ".txt"))  # no loader reads .rtf
    assert accepted_types(limits) == [".pdf", ".txt"]
    with pytest.raises(UploadTypeError, match=r"upload one of \.pdf, \.txt \("):
        check_type("ghi_chu.rtf", limits)


def test_chat_upload_limits(base, tmp_path):
    config = replace(base, home=tmp_path, limits=LimitsConfig(max_upload_mb=0.001))
    engine = QAEngine(config, embedder=HashEmbedder())
    big = tmp_path / "lon.txt"
    big.write_text("Văn bản. " * 500, encoding="utf-8")
    message = add_documents(engine, [str(big)], tmp_path / "uploads")
    assert "Không thêm được tệp nào" in message and "HOIDAP_MAX_UPLOAD_MB" in message


def test_too_many_files_refuse_the_whole_upload_in_rest_and_chat(base, tmp_path):
    config = replace(base, home=tmp_path)
    names = [f"bao_cao_{i}.txt" for i in range(MAX_FILES_PER_UPLOAD + 1)]
    resp = _client(config).post("/api/documents", files=[
        ("files", (n, "Xã Đồng Tâm có 120 hộ nghèo.".encode(), "text/plain")) for n in names])
    assert resp.status_code == 422
    assert f"send at most {MAX_FILES_PER_UPLOAD}" in resp.json()["message"]
    paths = []
    for n in names:
        (tmp_path / n).write_text("Xã Đồng Tâm có 120 hộ nghèo.", encoding="utf-8")
        paths.append(str(tmp_path / n))
    engine = QAEngine(config, embedder=HashEmbedder())
    message = add_documents(engine, paths, tmp_path / "uploads")
    assert f"Đã chọn {len(names)} tệp" in message
    assert f"tối đa {MAX_FILES_PER_UPLOAD} tệp" in message
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


# -- escaping -----------------------------------------------------------------------------------
def test_hostile_document_is_escaped_in_api_viewer_and_chat(base):
    from ui.chat import respond

    client = _client(base)
    page = client.get("/viewer/ba_che").text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<iframe" not in page
    engine = QAEngine(base, embedder=HashEmbedder())
    html = "".join(m["content"] for m in respond(engine, QUESTION + " <script>x</script>", []))
    assert "<script" not in html and "<iframe" not in html


def test_serve_warns_when_exposed_without_token(capsys):
    from ui.serve import exposure_warning

    assert exposure_warning("127.0.0.1", None) is None
    assert exposure_warning("::1", None) is None
    assert "HOIDAP_API_TOKEN" in exposure_warning("0.0.0.0", None)
    assert exposure_warning("0.0.0.0", TOKEN) is None


def test_failed_upload_leaves_nothing_on_disk_or_in_the_index(base, tmp_path):
    config = replace(base, index_dir=tmp_path / "index", home=tmp_path)
    build_index([Path(base.home) / "docs"], config, HashEmbedder())
    client = _client(config)
    before = client.get("/api/documents").json()
    fake = [("files", ("bao_cao.pdf", b"this is not a PDF at all", "application/pdf"))]
    resp = client.post("/api/documents", files=fake)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert set(body) == {"error", "message"} and "bao_cao.pdf" in body["message"]
    assert not any((tmp_path / "uploads").iterdir())
    assert client.get("/api/documents").json() == before
    # a good file and a bad one: the good one is indexed, the bad one leaves nothing behind
    mixed = [("files", ("tin.txt", "Xã Đồng Tâm khánh thành cầu treo\n\nCầu dài 86 mét.".encode(),
                        "text/plain")), *fake]
    resp = client.post("/api/documents", files=mixed)
    assert resp.status_code == 200 and resp.json()["saved"] == ["tin.txt"]
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == ["tin.txt"]
    # a broken new version of an earlier upload keeps the earlier file and document
    resp = client.post("/api/documents", files=[("files", ("tin.txt", b"\x00\xff" * 10,
                                                            "text/plain"))])
    assert (tmp_path / "uploads" / "tin.txt").read_text(encoding="utf-8").startswith("Xã")
    assert sorted(p.name for p in (tmp_path / "uploads").iterdir()) == ["tin.txt"]


def test_chat_upload_of_a_broken_file_leaves_nothing(base, tmp_path):
    config = replace(base, index_dir=tmp_path / "index", home=tmp_path)
    build_index([Path(base.home) / "docs"], config, HashEmbedder())
    engine = QAEngine(config, embedder=HashEmbedder())
    fake = tmp_path / "gia.pdf"
    fake.write_bytes(b"not a pdf")
    message = add_documents(engine, [str(fake)], tmp_path / "uploads")
    assert "gia.pdf" in message
    assert not any((tmp_path / "uploads").iterdir())
