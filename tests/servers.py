"""Run the app as real processes for tests: a private redis-server, a fresh database,
and Daphne workers, each stopped (process group and all) when the test is done.

    with Stack() as stack:
        stack.create_user("alice", "pw")
        worker = stack.start_worker()
        ...  # talk to worker.url; worker.restart(), stack.redis.restart(), ...

Nothing here imports Django or pytest: every process gets its settings from the
environment, as in production.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
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


def spawn(args: list[str], *, env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start `args` in its own process group, output to `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            args,
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
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


class RedisServer:
    """A private redis-server on a free loopback port; never the machine's own."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerError("redis-server is not installed")
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
        ]
        log = self.workdir / f"redis-{self.port}.log"
        self.process = spawn(args, env=dict(os.environ), log_path=log)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"redis-server did not start:\n{log_tail(log)}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        stop_process(self.process)

    def restart(self) -> None:
        self.stop()
        self.start()


class Database:
    """A fresh database for the processes: a temporary SQLite file, or the
    database named by TEST_DATABASE_URL (emptied first: it must be a test database)."""

    def __init__(self, workdir: Path, url: str | None = None) -> None:
        self.workdir = workdir
        given = url or os.environ.get("TEST_DATABASE_URL", "")
        self.url = given or f"sqlite:///{workdir / 'db.sqlite3'}"
        self.flush_first = bool(given)

    def prepare(self, env: dict[str, str]) -> None:
        manage(["migrate", "--noinput"], env=env)
        if self.flush_first:
            manage(["flush", "--noinput"], env=env)


def manage(args: list[str], *, env: dict[str, str], timeout: float = 120.0) -> str:
    """Run `manage.py <args>` in a subprocess; return its stdout."""
    result = subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise ServerError(
            f"manage.py {' '.join(args[:1])} failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


# Runs in `manage.py shell -c`; reads its arguments from SHELL_ARGS, prints JSON.
_SHELL_PRELUDE = "import json, os\nargs = json.loads(os.environ['SHELL_ARGS'])\n"


class Worker:
    """One Daphne process serving the app on a loopback port."""

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        *,
        port: int | None = None,
        application: str = "config.asgi:application",
    ) -> None:
        self.env = env
        self.workdir = workdir
        self.port = port or free_port()
        self.application = application
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"daphne-{self.port}.log"

    def start(self) -> Worker:
        args = [PYTHON, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), self.application]
        self.process = spawn(args, env=self.env, log_path=self.log_path)
        self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                raise ServerError(f"daphne on {self.port} exited:\n{log_tail(self.log_path)}")
            if healthz_status(self.url) == 200:
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(
                    f"daphne on {self.port} not healthy in {timeout} s:\n{log_tail(self.log_path)}"
                )
            time.sleep(0.1)

    def stop(self, *, sig: int = signal.SIGTERM) -> None:
        """Stop the worker; `sig=signal.SIGKILL` for a crash rather than a shutdown."""
        stop_process(self.process, sig=sig)

    def restart(self, *, sig: int = signal.SIGTERM) -> None:
        """Stop and start again on the same port (the browser reconnects there)."""
        self.stop(sig=sig)
        self.start()

    def log(self) -> str:
        return log_tail(self.log_path, 200)


def healthz_status(base_url: str) -> int | None:
    try:
        # base_url is always one of our own http://127.0.0.1 workers.
        with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


class Stack:
    """Redis, a database and any number of Daphne workers sharing them.

    With `collect_static` (browser tests), `collectstatic` runs first: with DEBUG off
    the workers serve the collected, hashed files (WhiteNoise), as in production.
    """

    def __init__(
        self,
        *,
        debug: bool = False,
        collect_static: bool = False,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.debug = debug
        self.collect_static = collect_static
        self.extra_env = extra_env or {}
        self._tempdir = tempfile.TemporaryDirectory(prefix="relay-test-")
        self.workdir = Path(self._tempdir.name)
        self.redis = RedisServer(self.workdir)
        self.database = Database(self.workdir)
        self.secret_key = secrets.token_urlsafe(50)
        self.workers: list[Worker] = []

    @property
    def env(self) -> dict[str, str]:
        """The environment every process of this stack runs with."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DJANGO_DEBUG": "1" if self.debug else "0",
                "DJANGO_SECRET_KEY": self.secret_key,
                "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
                # Tests speak plain HTTP: no Secure cookies, no redirect to HTTPS.
                "DJANGO_SECURE_COOKIES": "0",
                "DJANGO_HTTPS": "0",
                "REDIS_URL": self.redis.url,
                "DATABASE_URL": self.database.url,
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def __enter__(self) -> Stack:
        try:
            self.redis.start()
            self.database.prepare(self.env)
            if self.collect_static:
                manage(["collectstatic", "--noinput", "--verbosity", "0"], env=self.env)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start_worker(self, *, port: int | None = None) -> Worker:
        worker = Worker(self.env, self.workdir, port=port)
        self.workers.append(worker)
        return worker.start()

    def shell(self, code: str, **args) -> object:
        """Run Python in `manage.py shell` against this stack's database and Redis.

        `code` sees `args` (JSON-decoded keyword arguments) and returns a value by
        printing JSON as its last line of output.
        """
        env = {**self.env, "SHELL_ARGS": json.dumps(args)}
        output = manage(["shell", "--no-imports", "-c", _SHELL_PRELUDE + code], env=env)
        lines = output.strip().splitlines()
        return json.loads(lines[-1]) if lines else None

    def create_user(self, username: str, password: str) -> int:
        """Create an active user; return their id."""
        return self.shell(
            "from django.contrib.auth import get_user_model\n"
            "users = get_user_model().objects\n"
            "user = users.create_user(args['username'], password=args['password'])\n"
            "print(json.dumps(user.pk))",
            username=username,
            password=password,
        )

    def close(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(Exception):
                worker.stop(sig=signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.redis.stop()
        self._tempdir.cleanup()
