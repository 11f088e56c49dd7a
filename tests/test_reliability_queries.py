"""Queries under bad input (hypothesis): Python API, CLI and REST always give a result or a
clear error (InputError / exit code 2 / HTTP 4xx) — never a 500 or a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoidap.config import Config, LimitsConfig
from hoidap.errors import HoidapError
from qa.engine import QAEngine
from qa.search.write import build_index
from qa.types import Filters, QAResult
from tests import fake_cli
from tests.fakes import HashEmbedder
from ui.app import create_app

ROOT = Path(__file__).resolve().parent.parent
DOCS = {
    "cao_loc.txt": "Thứ sáu, 24/09/2021\n\nHuyện ủy Cao Lộc tổng kết năm 2020\n\nTổng thu ngân "
                   "sách huyện năm 2020 ước đạt 452,2 tỷ đồng, tăng 3,5% so với cùng kỳ.",
    "ba_che.txt": "15/10/2020 08:00\n\nHuyện Ba Chẽ họp Ban Chấp hành\n\nTỷ lệ hộ nghèo của "
                  "huyện còn 1,29%. Người dân ở xã Đạp Thanh trồng 3.772 ha rừng.",
}
PAYLOADS = ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "javascript:alert(1)",
            "'; DROP TABLE docs; --", "{{7*7}}", "${jndi:ldap://x}", "../../etc/passwd",
            "%00", "\u202etxt.exe", "ở", "Tỷ lệ hộ nghèo của huyện Ba Chẽ còn bao nhiêu?",
            "\ud800", "\x00", "\x1b[31m", "\u200b\u200d", "🙂" * 50]
FAST = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow, HealthCheck.data_too_large])

questions = st.one_of(
    st.text(max_size=300),
    st.sampled_from(PAYLOADS),
    st.builds(lambda a, b: a + b, st.sampled_from(PAYLOADS), st.text(max_size=40)),
    st.builds(lambda s, n: (s or "x") * n, st.text(min_size=1, max_size=5),
              st.integers(400, 3000)),  # around and over the length limit
    st.text(alphabet=st.characters(max_codepoint=0x20), max_size=30),  # controls only
)
ks = st.one_of(st.integers(-5, 60), st.integers(-2**70, 2**70))
dates = st.one_of(st.none(), st.sampled_from(["2020-01-01", "2021-13-40", "24/09/2021", "",
                                              "2030-12-31", "0000-00-00"]), st.text(max_size=12))
BAD_IDS = ["cao_loc", "ba_che", "../x", "\ud800", "/etc/passwd", "a\x00b", "%2e%2e%2f"]
doc_ids = st.one_of(st.none(), st.lists(st.one_of(st.sampled_from(BAD_IDS), st.text(max_size=20)),
                                        max_size=4))


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> QAEngine:
    root = tmp_path_factory.mktemp("q")
    (root / "docs").mkdir()
    for name, text in DOCS.items():
        (root / "docs" / name).write_text(text, encoding="utf-8")
    config = Config(home=root, index_dir=root / "index", limits=LimitsConfig(rate_limit=0))
    build_index([root / "docs"], config, HashEmbedder())
    return QAEngine(config, embedder=HashEmbedder())


@pytest.fixture(scope="module")
def client(engine) -> TestClient:
    return TestClient(create_app(engine, with_ui=False), raise_server_exceptions=False)


def _json_safe(obj: object) -> None:
    json.dumps(obj, ensure_ascii=False).encode("utf-8")


# -- Python API -------------------------------------------------------------------------------
@FAST
@given(q=questions, k=ks, ids=doc_ids, d_from=dates, d_to=dates)
def test_api_ask_gives_a_result_or_a_clear_error(engine, q, k, ids, d_from, d_to):
    filters = Filters(tuple(ids) if ids is not None else None, d_from, d_to)
    try:
        result = engine.ask(q, k=k, filters=filters)
    except HoidapError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    assert isinstance(result, QAResult) and len(result.passages) <= k
    _json_safe(result.to_dict())


@FAST
@given(q=questions, k=ks, mode=st.sampled_from(["hybrid", "dense", "bm25"]))
def test_api_search_gives_passages_or_a_clear_error(engine, q, k, mode):
    try:
        passages = engine.search(q, k=k, mode=mode)
    except HoidapError as exc:
        assert str(exc)
        return
    assert len(passages) <= k
    for p in passages:
        assert engine.document(p.doc_id).text[p.start:p.end] == p.text


@pytest.mark.parametrize("k", [0, -1, 51, 10**9, 2.5, "5", None, True])
def test_api_k_out_of_range_or_wrong_type(engine, k):
    with pytest.raises(HoidapError, match="k must be"):
        engine.ask("Tỷ lệ hộ nghèo còn bao nhiêu?", k=k)


# -- REST -------------------------------------------------------------------------------------
json_values = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(),
                                     st.text(max_size=30)),
                           lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                           max_leaves=8)
bodies = st.one_of(
    st.fixed_dictionaries({"question": questions},
                          optional={"k": st.one_of(ks, json_values), "doc_ids": doc_ids,
                                    "date_from": dates, "date_to": dates}),
    st.dictionaries(st.sampled_from(["question", "k", "doc_ids", "date_from", "extra"]),
                    json_values, max_size=4),
    json_values,
)


def _post(client: TestClient, path: str, body: object):
    """POST ``body`` as JSON with \\u escapes, so lone surrogates reach the server too."""
    return client.post(path, content=json.dumps(body).encode(),
                       headers={"content-type": "application/json"})


def _check_response(resp) -> None:
    assert resp.status_code < 500, resp.text
    body = resp.json()
    if resp.status_code >= 400:
        assert body["message"] and body["error"]
    assert "Traceback" not in resp.text and 'File "' not in resp.text


@FAST
@given(body=bodies)
def test_rest_ask_never_500(client, body):
    _check_response(_post(client, "/api/ask", body))


@FAST
@given(body=bodies, mode=st.one_of(st.sampled_from(["hybrid", "bm25", "dense"]), json_values))
def test_rest_search_never_500(client, body, mode):
    if isinstance(body, dict):
        body = {("query" if k == "question" else k): v for k, v in body.items()}
        body["mode"] = mode
    _check_response(_post(client, "/api/search", body))


@FAST
@given(raw=st.binary(max_size=200))
def test_rest_raw_bytes_never_500(client, raw):
    resp = client.post("/api/ask", content=raw, headers={"content-type": "application/json"})
    _check_response(resp)


@FAST
@given(doc_id=st.one_of(st.text(max_size=40), st.sampled_from(PAYLOADS)))
def test_rest_document_lookup_never_500(client, doc_id):
    from urllib.parse import quote

    for prefix in ("/api/documents/", "/viewer/"):
        resp = client.get(prefix + quote(doc_id.encode("utf-8", "surrogatepass"), safe=""))
        assert resp.status_code in (200, 404, 405, 422) or resp.status_code == 307, resp.text
        if resp.headers.get("content-type", "").startswith("application/json"):
            assert "Traceback" not in resp.text


# -- CLI (in process, fake embedder) ------------------------------------------------------------
@pytest.fixture(scope="module")
def fake_model():
    with pytest.MonkeyPatch.context() as mp:
        import index.embedder

        mp.setattr(index.embedder, "Embedder", fake_cli.FakeEmbedder)
        yield


def _run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = fake_cli.main(argv)
        except SystemExit as exc:  # argparse
            code = exc.code if isinstance(exc.code, int) else 2
    return code, out.getvalue(), err.getvalue()


@FAST
@given(q=questions, k=st.one_of(ks.map(str), st.text(max_size=6)), d_from=dates,
       doc=st.one_of(st.none(), st.text(max_size=10)),
       command=st.sampled_from(["ask", "search"]), as_json=st.booleans())
def test_cli_exit_0_or_2_without_traceback(engine, fake_model, q, k, d_from, doc, command,
                                           as_json):
    argv = [command, q, "--k", k, "--index", str(engine.index_dir)]
    argv += ["--date-from", d_from] if d_from is not None else []
    argv += ["--doc", doc] if doc is not None else []
    argv += ["--json"] if as_json else []
    code, out, err = _run_cli(argv)
    assert code in (0, 2), (code, err)
    assert "Traceback" not in err + out
    if code == 2:
        assert err.startswith("hoidap: error:") and len(err.splitlines()) == 1
    elif as_json:
        _json_safe(json.loads(out))


def test_cli_subprocess_hostile_arguments(engine):
    env = {"HOIDAP_FAKE_EMBEDDER": "1", "PATH": "/usr/bin:/bin"}
    cases = [["ask", "<script>alert(1)</script> hộ nghèo?"], ["ask", "x" * 5000],
             ["ask", "ở", "--k", "99999999999999999999"], ["search", "\x1b[2J", "--k", "-3"],
             ["ask", "hộ nghèo", "--date-from", "2021-02-30"], ["show", "../../etc/passwd"],
             ["ask", "hộ nghèo", "--doc", "/etc/passwd"]]
    for argv in cases:
        proc = subprocess.run([sys.executable, "-m", "tests.fake_cli", *argv, "--index",
                               str(engine.index_dir)], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode in (0, 2), (argv, proc.stderr)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert "root:" not in proc.stdout  # never a file's contents


def test_limits_are_configurable(engine):
    small = QAEngine(replace(engine.config, max_question_chars=10), embedder=HashEmbedder())
    with pytest.raises(HoidapError, match="limit is 10"):
        small.ask("Tỷ lệ hộ nghèo còn bao nhiêu?")
