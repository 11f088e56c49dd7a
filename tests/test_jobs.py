"""Background indexing jobs: progress arithmetic, questions answered during a job, and the one
upload intake (with rollback) shared by the REST API and the chat (fake embedders)."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hoidap.config import Config
from qa.engine import QAEngine
from qa.search.write import build_index
from tests.fakes import BrokenEmbedder, HashEmbedder, SlowEmbedder
from ui import progress as prog
from ui.app import create_app
from ui.chat import add_documents, chat_concurrency, follow_upload
from ui.jobs import IndexJobError, IndexJobs, portable, worker_threads
from ui.progress import JobState

DOCS = {
    "cao_loc.txt": "Huyện ủy Cao Lộc tổng kết năm 2020\n\nTổng thu ngân sách Nhà nước trên địa "
                   "bàn huyện năm 2020 ước đạt 452,2 tỷ đồng, tăng 3,5% so với cùng kỳ.",
    "chi_lang.txt": "Hội nghị Ban Chấp hành Đảng bộ huyện Chi Lăng\n\nNăm 2023 huyện Chi Lăng "
                    "có 13/18 nhiệm vụ trọng tâm đạt mức hoàn thành xuất sắc.",
}
QUESTION = "Tổng thu ngân sách Nhà nước trên địa bàn huyện năm 2020 ước đạt bao nhiêu?"
BRIDGE = ("Xã Đồng Tâm khánh thành cầu treo\n\nCầu treo Đồng Tâm dài 86 mét, bắc qua suối "
          "Nà Lừa, tổng vốn 3,5 tỷ đồng.")


# -- progress arithmetic (pure) -----------------------------------------------------------------
def test_progress_moves_through_its_phases():
    s = JobState("job-1", files=2, submitted=0.0)
    assert (s.phase, prog.fraction(s), prog.elapsed_seconds(s, 9.0)) == ("queued", 0.0, 0.0)
    s = prog.started(s, 1.0)
    assert s.phase == "reading" and prog.advanced(s, "parse", 1, 2, 2.0) == s  # other stages
    s = prog.advanced(s, "embed", 16, 160, 3.0)
    assert (s.phase, s.embedded, s.total, s.rate_from) == ("embedding", 16, 160, (3.0, 16))
    s = prog.advanced(s, "embed", 160, 160, 9.0)
    assert s.phase == "saving" and prog.fraction(s) == 1.0 and s.rate_from == (3.0, 16)
    s = prog.finished(s, True, "", 10.0)
    assert s.phase == "done" and prog.elapsed_seconds(s, 99.0) == 9.0
    assert prog.advanced(s, "embed", 1, 2, 11.0) == s  # a finished job stays finished
    failed = prog.finished(prog.started(JobState("j", 1, 0.0), 0.0), False, "boom", 2.0)
    assert failed.phase == "failed" and prog.fraction(failed) == 0.0


def test_time_left_comes_from_the_rate_measured_after_the_first_batch():
    s = prog.advanced(prog.started(JobState("j", 1, 0.0), 0.0), "embed", 16, 160, 10.0)
    assert prog.eta_seconds(s, 10.2) is None  # nothing measured yet
    s = prog.advanced(s, "embed", 48, 160, 14.0)  # 32 chunks in 4 s: 8 chunks/s
    assert prog.rate(s, 14.0) == pytest.approx(8.0)
    assert prog.eta_seconds(s, 14.0) == pytest.approx(14.0)  # 112 chunks left
    # the model load before the first batch (10 s here) does not slow the estimate down
    assert prog.eta_seconds(prog.advanced(s, "embed", 160, 160, 28.0), 28.0) is None


def test_progress_text_and_bar_are_vietnamese_and_accessible():
    s = prog.advanced(prog.started(JobState("j", 1, 0.0), 0.0), "embed", 16, 160, 10.0)
    assert "đang ước tính" in prog.progress_text(s, 10.1)
    s = prog.advanced(s, "embed", 48, 160, 14.0)
    line = prog.progress_text(s, 14.0)
    assert line == ("Đang tạo vector cho các đoạn văn: 1 tệp · 48/160 đoạn (30%) · "
                    "đã chạy 14 giây · còn khoảng 14 giây.")
    html = prog.progress_html(s, 14.0)
    assert 'role="progressbar"' in html and 'aria-valuenow="30"' in html
    assert "width:30%" in html and 'aria-live="polite"' in html
    queued = JobState("j", 3, 0.0)
    assert prog.progress_text(queued, 5.0, ahead=2) == "Đang chờ lượt (3 tệp; 2 lượt tải trước)."
    assert prog.duration_text(0.2) == "dưới 1 giây"
    assert prog.duration_text(12.0) == "12 giây"
    assert prog.duration_text(65.2) == "1 phút 06 giây"


def test_sizes_from_the_machine():
    assert chat_concurrency(0, 2) == 4 and chat_concurrency(0, None) == 2
    assert chat_concurrency(3, 16) == 3
    assert worker_threads(0) == 1 and worker_threads(2) == 2


def test_errors_cross_processes_as_library_errors():
    assert isinstance(portable(RuntimeError("x")), IndexJobError)
    assert "RuntimeError: x" in str(portable(RuntimeError("x")))
    err = IndexJobError("kept as it is")
    assert portable(err) is err


# -- jobs -----------------------------------------------------------------------------------------
@pytest.fixture()
def built(tmp_path) -> Config:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    config = Config.from_env(home=tmp_path, index_dir=tmp_path / "index")
    build_index([docs], config, HashEmbedder())
    return config


def _long_upload(folder: Path) -> Path:
    """A document of many chunks (the slow embedder takes a while over it)."""
    folder.mkdir(exist_ok=True)
    path = folder / "cau_treo.txt"
    filler = " ".join(f"Đoạn {i}: xã Đồng Tâm họp bàn kế hoạch giao thông nông thôn năm "
                      f"{2000 + i % 20} với nhiều ý kiến của người dân." for i in range(400))
    path.write_text(BRIDGE + "\n\n" + filler, encoding="utf-8")
    return path


@pytest.mark.parametrize("in_process", [False, True], ids=["worker-process", "thread"])
def test_questions_are_answered_while_an_upload_is_indexed(built, tmp_path, in_process):
    engine = QAEngine(built, embedder=SlowEmbedder(delay=0.05, batch=2))
    engine.ask(QUESTION)  # the old version is loaded and serving
    jobs = IndexJobs(engine, in_process=in_process)
    path = _long_upload(tmp_path / "incoming")
    statuses = follow_upload(engine, jobs, [str(path)], tmp_path / "uploads", every=0.05)
    answered_during: list[str] = []
    phases: set[str] = set()
    shown: list[str] = []
    for html in statuses:
        shown.append(html)
        job = jobs.get("job-1")
        assert job is not None
        phases.add(job.state.phase)
        if job.state.phase == "embedding" and not answered_during:
            result = engine.ask(QUESTION)
            if not job.finished:  # answered before the upload was done
                answered_during.append(result.answers[0].text)
    assert answered_during == ["452,2 tỷ đồng"]
    assert {"embedding", "done"} <= phases
    assert "Đã nạp 1 tài liệu mới" in shown[-1]
    assert any('role="progressbar"' in h and "đoạn (" in h for h in shown[:-1])
    report, kept = jobs.get("job-1").result()
    assert report.embedded > 50 and [p.name for p in kept] == ["cau_treo.txt"]
    assert engine.search("cầu treo Đồng Tâm dài bao nhiêu mét", k=1)[0].doc_id == "cau_treo"


def test_jobs_run_one_at_a_time_in_order(built, tmp_path):
    engine = QAEngine(built, embedder=SlowEmbedder(delay=0.02, batch=4))
    jobs = IndexJobs(engine)
    first = _long_upload(tmp_path / "a")
    second = tmp_path / "b" / "thong_bao.txt"
    second.parent.mkdir()
    second.write_text("Thông báo lịch tiếp dân của xã Đồng Tâm vào thứ Năm hằng tuần.",
                      encoding="utf-8")
    from ui.chat import start_upload

    a, _ = start_upload(engine, jobs, [str(first)], tmp_path / "uploads")
    b, _ = start_upload(engine, jobs, [str(second)], tmp_path / "uploads")
    assert a is not None and b is not None and jobs.ahead(b) in (0, 1)
    assert "lượt tải trước" in prog.progress_text(b.state, 0.0, jobs.ahead(b)) or \
        b.state.phase != "queued"
    assert b.wait(60) and a.finished
    assert a.state.finished <= b.state.started  # never both at once
    assert {d.doc_id for d in engine.documents()} >= {"cau_treo", "thong_bao"}


def test_concurrent_questions_match_answers_asked_one_by_one(built):
    engine = QAEngine(built, embedder=HashEmbedder())
    questions = [QUESTION, "Huyện Chi Lăng có bao nhiêu nhiệm vụ trọng tâm đạt mức xuất sắc?"]
    expected = [engine.ask(q).to_dict() for q in questions]
    fresh = QAEngine(built, embedder=HashEmbedder())  # lazy parts made under contention
    start = threading.Barrier(8)
    results: dict[int, list[dict]] = {}

    def user(n: int) -> None:
        start.wait()
        results[n] = [fresh.ask(questions[(n + i) % 2]).to_dict() for i in range(6)]

    threads = [threading.Thread(target=user, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n, got in results.items():
        assert got == [expected[(n + i) % 2] for i in range(6)]
    assert len(results) == 8


def test_lazy_parts_are_made_once_under_contention(built):
    engine = QAEngine(replace(built, reader=replace(built.reader, kind="heuristic")))
    start = threading.Barrier(8)
    seen: list[object] = []

    def touch() -> None:
        start.wait()
        seen.append((engine.embedder, engine.reader))

    threads = [threading.Thread(target=touch) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(e) for e, _ in seen}) == 1 and len({id(r) for _, r in seen}) == 1


# -- one intake, one rollback: REST and chat ------------------------------------------------------
def _upload_rest(engine: QAEngine, folder: Path, name: str, data: bytes):
    client = TestClient(create_app(engine, uploads_dir=folder, with_ui=False),
                        raise_server_exceptions=False)
    return client.post("/api/documents", files={"files": (name, data, "text/plain")})


def _upload_chat(engine: QAEngine, folder: Path, name: str, data: bytes) -> str:
    src = folder.parent / "tmp-gradio" / name
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(data)
    return add_documents(engine, [str(src)], folder)


def worker_always(config: Config) -> Config:
    """``config`` with every upload indexed in the worker process, however small."""
    return replace(config, limits=replace(config.limits, inline_upload_kb=0))


@pytest.mark.parametrize("crash", [False, True], ids=["error", "worker-dies"])
@pytest.mark.parametrize("via", ["rest", "chat"])
def test_a_failed_upload_leaves_nothing_behind(built, tmp_path, via, crash):
    built = worker_always(built)  # these small uploads too go through the worker process
    folder = tmp_path / "uploads"
    good = QAEngine(built, embedder=HashEmbedder())
    first = BRIDGE.encode()
    if via == "rest":
        assert _upload_rest(good, folder, "tin.txt", first).status_code == 200
    else:
        assert "Đã nạp 1 tài liệu mới" in _upload_chat(good, folder, "tin.txt", first)
    broken = QAEngine(built, embedder=BrokenEmbedder(crash=crash))
    second = "Bản mới của tin cầu treo: dài 90 mét.".encode()
    if via == "rest":
        resp = _upload_rest(broken, folder, "tin.txt", second)
        assert resp.status_code == 500
        assert ("stopped without a result" if crash else "RuntimeError") in \
            resp.json()["message"]
    else:
        message = _upload_chat(broken, folder, "tin.txt", second)
        assert message.startswith("Không thêm được tài liệu")
        assert "chỉ mục không thay đổi" in message and "Lỗi:" not in message  # in Vietnamese
    assert sorted(p.name for p in folder.iterdir()) == ["tin.txt"]  # no set-aside copy
    assert (folder / "tin.txt").read_bytes() == first  # the earlier version is back
    fresh = QAEngine(built, embedder=HashEmbedder())
    assert fresh.document("tin").text.startswith("Xã Đồng Tâm")  # the index is unchanged


def test_rest_refuses_the_whole_upload_and_chat_keeps_the_good_files(built, tmp_path):
    engine = QAEngine(built, embedder=HashEmbedder())
    client = TestClient(create_app(engine, uploads_dir=tmp_path / "rest", with_ui=False),
                        raise_server_exceptions=False)
    resp = client.post("/api/documents", files=[
        ("files", ("tin.txt", BRIDGE.encode(), "text/plain")),
        ("files", ("x.exe", b"MZ", "application/octet-stream"))])
    assert resp.status_code == 415
    assert not (tmp_path / "rest").exists() or not any((tmp_path / "rest").iterdir())
    src = tmp_path / "in"
    src.mkdir()
    (src / "tin.txt").write_text(BRIDGE, encoding="utf-8")
    (src / "x.exe").write_bytes(b"MZ")
    message = add_documents(engine, [str(src / "tin.txt"), str(src / "x.exe")],
                            tmp_path / "chat")
    assert "Đã nạp 1 tài liệu mới" in message and "x.exe" in message
    assert sorted(p.name for p in (tmp_path / "chat").iterdir()) == ["tin.txt"]


def test_a_small_upload_is_indexed_in_this_process_and_searchable_at_once(built, tmp_path,
                                                                         monkeypatch):
    import ui.jobs as jobs_module

    def no_worker(*args, **kwargs):
        raise AssertionError("a small upload must not start a worker process")

    monkeypatch.setattr(jobs_module, "run_worker", no_worker)
    engine = QAEngine(built, embedder=HashEmbedder())
    engine.ask(QUESTION)
    path = tmp_path / "in" / "le_hoi.txt"
    path.parent.mkdir()
    path.write_text("Lễ hội\n\nXã Đồng Tâm tổ chức lễ hội hoa ban vào ngày 12/3/2026.",
                    encoding="utf-8")
    assert jobs_module.small([path], 48 * 1024) and not jobs_module.small([path], 10)
    assert not jobs_module.small([path], 0)
    jobs = IndexJobs(engine)
    statuses = list(follow_upload(engine, jobs, [str(path)], tmp_path / "uploads", every=0.05))
    assert "Đã nạp 1 tài liệu mới" in statuses[-1]
    assert engine.search("lễ hội hoa ban Đồng Tâm", k=1)[0].doc_id == "le_hoi"
