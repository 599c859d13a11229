"""Slowloris on real workers: a request whose headers trickle in, or never come,
is closed at REALTIME_HEADER_TIMEOUT, under `manage.py serve` and under plain
`daphne`; a handshake that is slow but complete in time still opens a socket that
lives past the deadline."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

from harness.clients import SESSION_COOKIE, login

pytestmark = pytest.mark.integration

DEADLINE = 3.0
REQUEST_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
# How late a close may come on a busy 2-core machine (the worker's timer, then the
# kernel, then this process's read).
SLACK = 3.0


@pytest.fixture(scope="module")
def guarded(stack, user_ids):
    """A `manage.py serve` worker and a plain `daphne` one, with a 3 s deadline."""
    env = {"REALTIME_HEADER_TIMEOUT": str(int(DEADLINE))}
    serve = stack.start_worker(serve=True, extra_env=env)
    # Started like any Daphne: its /healthz poll is the first request, which arms it.
    plain = stack.start_worker(extra_env=env)
    yield {"serve": serve, "daphne": plain}
    for worker in (serve, plain):
        worker.stop()
        print(f"--- {worker.log_path.name} ---\n{worker.log()[-4000:]}")


def hold_open(port: int, first: bytes, *, trickle: bool, limit: float = 20.0):
    """Send `first`, then (with `trickle`) one header line a second, until the server
    closes. Return (seconds the connection stayed open, what the server sent)."""
    started = time.monotonic()
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.settimeout(1.0)
        conn.sendall(first)
        lines = 0
        while time.monotonic() - started < limit:
            try:
                chunk = conn.recv(4096)
            except TimeoutError:
                if trickle:
                    try:
                        conn.sendall(b"X-Slow-%d: 1\r\n" % lines)
                    except OSError:  # closed meanwhile
                        break
                    lines += 1
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
        else:
            pytest.fail(f"still open after {limit} s")
    return time.monotonic() - started, received


@pytest.mark.parametrize("kind", ["serve", "daphne"])
def test_headers_trickled_a_line_a_second_are_cut_at_the_deadline(guarded, kind, figure):
    worker = guarded[kind]
    held, received = hold_open(worker.port, b"GET /healthz HTTP/1.1\r\n", trickle=True)
    assert DEADLINE - 0.5 <= held < DEADLINE + SLACK
    assert received in {b"", REQUEST_TIMEOUT}
    assert worker.alive() if kind == "serve" else worker.process.poll() is None
    figure(
        f"slowloris ({kind}): trickling headers closed after {held:.1f} s (deadline {DEADLINE} s)"
    )


@pytest.mark.parametrize("kind", ["serve", "daphne"])
def test_a_connection_that_sends_nothing_is_cut_at_the_deadline(guarded, kind):
    held, _ = hold_open(guarded[kind].port, b"", trickle=False)
    assert DEADLINE - 0.5 <= held < DEADLINE + SLACK


def test_a_kept_alive_connection_gets_the_deadline_for_its_next_request(guarded):
    port = guarded["serve"].port
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    held, received = hold_open(port, request, trickle=False)
    assert received.startswith(b"HTTP/1.1 200")
    assert DEADLINE - 0.5 <= held < DEADLINE + SLACK


def test_many_silent_connections_are_all_cut_and_the_site_answers_meanwhile(guarded, figure):
    worker = guarded["serve"]
    count = 300
    conns = [socket.create_connection(("127.0.0.1", worker.port), timeout=5) for _ in range(count)]
    started = time.monotonic()
    try:
        assert worker_health(worker.port) == 200
        fds_held = len(os.listdir(f"/proc/{worker.daphne_pid()}/fd"))
        for conn in conns:
            conn.settimeout(max(0.1, started + DEADLINE + SLACK - time.monotonic()))
            assert read_to_end(conn) in {b"", REQUEST_TIMEOUT}
        closed_after = time.monotonic() - started
        # The worker let go of every one of them.
        assert len(os.listdir(f"/proc/{worker.daphne_pid()}/fd")) <= fds_held - count + 5
    finally:
        for conn in conns:
            conn.close()
    figure(f"slowloris (serve): {count} silent connections all closed {closed_after:.1f} s after")


def read_to_end(conn: socket.socket) -> bytes:
    received = b""
    while chunk := conn.recv(4096):
        received += chunk
    return received


def worker_health(port: int) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        return int(read_until(conn, b"\r\n").split()[1])


def read_until(conn: socket.socket, marker: bytes, received: bytes = b"") -> bytes:
    while marker not in received:
        chunk = conn.recv(4096)
        if not chunk:
            raise AssertionError(f"closed before {marker!r}: {received[:200]!r}")
        received += chunk
    return received


def read_frame(conn: socket.socket, buffered: bytes) -> tuple[dict, bytes]:
    """Read one unmasked text frame from the server; return (its JSON, what is left)."""
    buffered = read_exactly(conn, buffered, 2)
    length = buffered[1] & 0x7F
    offset = 2
    if length == 126:
        buffered = read_exactly(conn, buffered, 4)
        length, offset = int.from_bytes(buffered[2:4], "big"), 4
    elif length == 127:
        buffered = read_exactly(conn, buffered, 10)
        length, offset = int.from_bytes(buffered[2:10], "big"), 10
    buffered = read_exactly(conn, buffered, offset + length)
    return json.loads(buffered[offset : offset + length]), buffered[offset + length :]


def read_exactly(conn: socket.socket, buffered: bytes, size: int) -> bytes:
    while len(buffered) < size:
        chunk = conn.recv(65536)
        if not chunk:
            raise AssertionError("the server closed the socket")
        buffered += chunk
    return buffered


def text_frame(payload: dict) -> bytes:
    """A masked client text frame (under 126 bytes)."""
    data = json.dumps(payload).encode()
    mask = os.urandom(4)
    return (
        bytes([0x81, 0x80 | len(data)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))
    )


def test_a_slow_but_complete_handshake_opens_a_socket_that_outlives_the_deadline(guarded, password):
    worker = guarded["serve"]
    session = login(worker.url, "alice", password)
    slug = session.create_room("slow but complete handshake")
    lines = [
        f"GET /ws/chat/{slug}/ HTTP/1.1",
        f"Host: 127.0.0.1:{worker.port}",
        f"Origin: {worker.url}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        f"Cookie: {SESSION_COOKIE}={session.session_cookie}",
        "",
    ]
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", worker.port), timeout=10) as conn:
        for line in lines:  # about 1.6 s in all, well inside the 3 s
            conn.sendall(line.encode() + b"\r\n")
            time.sleep(0.2)
        received = read_until(conn, b"\r\n\r\n")
        assert received.startswith(b"HTTP/1.1 101")
        buffered = received.split(b"\r\n\r\n", 1)[1]
        hello, buffered = read_frame(conn, buffered)
        assert hello["type"] == "hello" and hello["room"]["slug"] == slug
        # Past the deadline the socket is the application's, and still answers.
        time.sleep(max(0.0, started + DEADLINE + 1 - time.monotonic()))
        conn.sendall(text_frame({"type": "ping"}))
        frame, buffered = read_frame(conn, buffered)
        while frame["type"] == "presence":
            frame, buffered = read_frame(conn, buffered)
        assert frame == {"type": "pong"}
