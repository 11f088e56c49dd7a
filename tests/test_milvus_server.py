"""The network path: a milvus-lite server process, written and searched by several processes."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from qa.engine import QAEngine
from tests.fakes import HashEmbedder
from tests.test_engines import engine_config, make_corpus

pytest.importorskip("pymilvus")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["tổng thu ngân sách", "tong thu ngan sach", "tỷ lệ hộ nghèo", "3,5%", "ở xã"]

CLIENT = """
import json, sys
from dataclasses import replace
from hoidap.config import Config, LimitsConfig
from qa.engine import QAEngine
from tests.fakes import HashEmbedder
uri, name, action = sys.argv[1:4]
cfg = Config(engine="milvus", milvus_uri=uri, milvus_collection=name,
             limits=LimitsConfig(parse_timeout_s=0))
engine = QAEngine(cfg, embedder=HashEmbedder())
if action == "search":
    out = {q: [p.chunk_id for p in engine.search(q, k=3)] for q in json.loads(sys.argv[4])}
elif action == "remove":
    out = engine.remove([sys.argv[4]]).to_dict()["removed"]
else:
    out = [d.doc_id for d in engine.documents()]
print(json.dumps(out))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"milvus-lite server exited: {proc.stderr.read()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"milvus-lite server not listening on {port}")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    exe = shutil.which("milvus-lite") or str(Path(sys.executable).parent / "milvus-lite")
    if not Path(exe).exists():
        pytest.skip("milvus-lite command not installed")
    port = free_port()
    data = tmp_path_factory.mktemp("milvus-data")
    proc = subprocess.Popen([exe, "server", "--data-dir", str(data), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def run_clients(uri: str, name: str, action: str, arg: str = "", n: int = 1) -> list:
    procs = [subprocess.Popen([sys.executable, "-c", CLIENT, uri, name, action, arg],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(n)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-2000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return outs


def test_processes_share_one_server(server, tmp_path):
    cfg = replace(engine_config("milvus-lite", tmp_path), milvus_uri=server)
    writer = QAEngine(cfg, embedder=HashEmbedder())
    writer.update([make_corpus(tmp_path / "docs")])
    expected = {q: [p.chunk_id for p in writer.search(q, k=3)] for q in QUERIES}
    assert all(expected.values())
    # two reader processes at once see exactly what the writer wrote
    for got in run_clients(server, cfg.milvus_collection, "search", json.dumps(QUERIES), n=2):
        assert got == expected
    # a change made by another process is seen here without reopening
    assert run_clients(server, cfg.milvus_collection, "remove", "b") == [["b"]]
    assert [d.doc_id for d in writer.documents()] == ["a", "c"]
    assert all(p.doc_id != "b" for p in writer.search("tỷ lệ hộ nghèo", k=5))
    # and the data outlives the client processes
    assert run_clients(server, cfg.milvus_collection, "list") == [["a", "c"]]


def test_embedded_file_reopens_in_another_process(tmp_path):
    """A milvus-lite file written by one process is searchable by the next one."""
    db = str(tmp_path / "m.db")
    build = ("import sys; from tests.test_engines import *; tmp = Path(sys.argv[1]); "
             "cfg = replace(engine_config('milvus-lite', tmp), milvus_uri=sys.argv[2], "
             "milvus_collection='hoidap'); "
             "QAEngine(cfg, embedder=HashEmbedder()).update([make_corpus(tmp / 'd')])")
    done = subprocess.run([sys.executable, "-c", build, str(tmp_path), db], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    got = run_clients(db, "hoidap", "search", json.dumps(QUERIES))[0]
    assert got["tổng thu ngân sách"] and all(got.values())
    assert run_clients(db, "hoidap", "list") == [["a", "b", "c"]]
