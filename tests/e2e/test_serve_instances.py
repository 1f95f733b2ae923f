"""Two `o2c serve` instances of one user on one host: each starts and serves,
neither creates gunicorn's per-user control socket (which they would fight
over), and each writes its JSON request log where O2C_REQUEST_LOG says."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from o2c.ready import wait_ready
from tests.e2e.test_graceful_shutdown import ROOT, _free_port

pytestmark = pytest.mark.slow


def _start(db_url: str, port: int, home: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "O2C_DATABASE_URL": db_url, "PYTHONPATH": str(ROOT), "O2C_ENV": "development",
           "HOME": str(home), "O2C_REQUEST_LOG": str(log)}
    return subprocess.Popen(
        [sys.executable, "-c", "from o2c.cli import main; main()", "serve", "--port", str(port),
         "--workers", "1", *extra],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, cwd=ROOT)


def test_two_instances_of_one_user_serve_side_by_side(db_url: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    ports = [_free_port(), _free_port()]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    procs = [_start(db_url, port, home, log) for port, log in zip(ports, logs)]
    try:
        for port, proc in zip(ports, procs):
            assert wait_ready(f"http://127.0.0.1:{port}/readyz", 30, proc.pid), f"instance on {port} not ready"
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                assert r.status == 200
        assert not (home / ".gunicorn").exists()
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
    for port, log in zip(ports, logs):
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        assert {(x["path"], x["status"]) for x in lines} >= {("/readyz", 200), ("/healthz", 200)}


def test_a_control_socket_is_made_where_it_is_asked_for(db_url: str, tmp_path: Path) -> None:
    port, socket_path = _free_port(), tmp_path / "o2c.ctl"
    proc = _start(db_url, port, tmp_path, tmp_path / "requests.log", "--control-socket", str(socket_path))
    try:
        assert wait_ready(f"http://127.0.0.1:{port}/readyz", 30, proc.pid)
        # gunicorn opens its control socket beside serving, not before it
        deadline = time.monotonic() + 15
        while not socket_path.is_socket() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert socket_path.is_socket()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def test_waiting_for_a_server_that_has_exited_gives_up_at_once(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert wait_ready(f"http://127.0.0.1:{_free_port()}/readyz", 30, dead.pid) is False
