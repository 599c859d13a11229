"""scripts/start for real: a busy port is refused before anything starts, a port
taken while it sets up is caught before it says "running", and whatever it
started (its private redis-server, the server, the task worker) is gone when it exits."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from harness.processes import cmdline, free_port, log_tail, session_pids, spawn, stop_process
from harness.stack import healthz_status

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")

REDIS_STARTED = "Started a private redis-server"
RUNNING = "Relay is running"


def start_script(tmp_path: Path, port: int) -> tuple[subprocess.Popen, Path]:
    """Run `bash scripts/start` in its own session, on a database of its own."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "REDIS_URLS"}}
    env.update(
        {
            "PORT": str(port),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    log = tmp_path / "start.log"
    return spawn(["bash", "scripts/start"], env=env, log_path=log), log


def wait_for_line(process: subprocess.Popen, log: Path, text: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        assert process.poll() is None, f"scripts/start exited:\n{log_tail(log)}"
        assert time.monotonic() < deadline, f"no {text!r} in {timeout} s:\n{log_tail(log)}"
        time.sleep(0.1)


def finish(process: subprocess.Popen, log: Path, timeout: float = 60) -> tuple[int, str]:
    """Wait for the script to exit; return its exit code and output."""
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_process(process)
        pytest.fail(f"scripts/start still running after {timeout} s:\n{log_tail(log)}")
    return code, log.read_text(errors="replace")


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    sock.listen()
    return sock


def test_a_busy_port_is_refused_before_anything_starts(tmp_path):
    port = free_port()
    with listening_socket(port):
        process, log = start_script(tmp_path, port)
        code, output = finish(process, log)
    assert code != 0
    assert f"port {port} on 127.0.0.1 is already in use" in output
    assert "PORT=" in output
    assert REDIS_STARTED not in output
    assert RUNNING not in output
    assert session_pids(process.pid) == []


@pytest.mark.integration
def test_a_port_taken_while_starting_stops_the_private_redis(tmp_path):
    port = free_port()
    process, log = start_script(tmp_path, port)
    try:
        wait_for_line(process, log, REDIS_STARTED)
        # Migrations and demo data come next: the server binds seconds later.
        with listening_socket(port):
            code, output = finish(process, log)
    finally:
        stop_process(process)
    assert code != 0, output
    assert f"port {port} on 127.0.0.1 is already in use" in output
    assert "PORT=" in output
    assert RUNNING not in output
    assert session_pids(process.pid) == [], "scripts/start left processes running"


@pytest.mark.integration
def test_start_says_running_once_it_serves_and_stops_everything_on_sigterm(tmp_path):
    port = free_port()
    process, log = start_script(tmp_path, port)
    try:
        wait_for_line(process, log, RUNNING)
        assert healthz_status(f"http://127.0.0.1:{port}") == 200
        pids = session_pids(process.pid)
        assert len(pids) >= 4  # the script, Redis, the server, the task worker
        assert any("db_worker" in cmdline(pid) for pid in pids), "no task worker running"
        os.kill(process.pid, signal.SIGTERM)  # the script alone, as a process manager would
        code, _ = finish(process, log)
    finally:
        stop_process(process)
    assert code != 0
    assert session_pids(process.pid) == [], "scripts/start left processes running"
