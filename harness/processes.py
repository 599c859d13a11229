"""Start and stop the processes of tests and benchmarks: each in its own process
group, killed with the run that started it, read from /proc.

Nothing here imports Django or pytest: every process gets its settings from the
environment, as in production.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STARTUP_TIMEOUT = 30.0


class ServerError(RuntimeError):
    """A process did not start, or a management command failed."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent_hook():
    """Return a preexec_fn asking Linux to kill the child if the test run dies.

    libc is loaded here, in the parent: the hook runs between fork and exec,
    where importing is unsafe.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGKILL)


_DIE_WITH_PARENT = _die_with_parent_hook()


def spawn(
    args: list[str], *, env: dict[str, str], log_path: Path, pipes: bool = False
) -> subprocess.Popen:
    """Start `args` in its own process group, output appended to `log_path`
    (with `pipes`: stdin and stdout are pipes, stderr goes to the log)."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.PIPE if pipes else subprocess.DEVNULL,
            stdout=subprocess.PIPE if pipes else log,
            stderr=log if pipes else subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_DIE_WITH_PARENT,
        )


def stop_process(
    process: subprocess.Popen | None, *, timeout: float = 10.0, sig: int = signal.SIGTERM
) -> None:
    """Signal the whole process group, then SIGKILL it if it lingers."""
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _processes() -> Iterator[tuple[int, list[str]]]:
    """Yield (pid, fields of /proc/<pid>/stat after the command name) of every
    process (Linux); the name is in parentheses and may hold spaces."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        yield int(entry.name), stat[stat.rindex(")") + 2 :].split()


def child_pids(pid: int) -> list[int]:
    """Return the ids of the processes whose parent is `pid`."""
    return sorted(child for child, fields in _processes() if int(fields[1]) == pid)


def serve_worker_pids(pid: int) -> list[int]:
    """Return the Daphne workers among the children of `manage.py serve` process
    `pid` (it runs the task worker beside them)."""
    return [child for child in child_pids(pid) if "--worker-fd" in cmdline(child)]


def cmdline(pid: int) -> list[str]:
    """Return the command line of process `pid` (empty once it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")[:-1]


def session_pids(sid: int) -> list[int]:
    """Return the ids of the live (not zombie) processes in session `sid`:
    everything a process started with `start_new_session` left running."""
    return sorted(
        process for process, fields in _processes() if int(fields[3]) == sid and fields[0] != "Z"
    )


def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ServerError(f"no VmRSS for process {pid}")
