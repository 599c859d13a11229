"""Run the app as real processes for tests: a private redis-server, a fresh database,
and Daphne workers, each stopped (process group and all) when the test is done.

    with Stack() as stack:
        stack.create_user("alice", "pw")
        worker = stack.start_worker()
        ...  # talk to worker.url; worker.restart(), stack.redis.restart(), ...
        served = stack.start_worker(serve=True)  # `manage.py serve`, as in production

With DATABASE_URL naming a PostgreSQL server (and no TEST_DATABASE_URL), the stack
makes a database of its own there and drops it when done; otherwise a SQLite file.

Nothing here imports Django or pytest: every process gets its settings from the
environment, as in production.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from harness.processes import (
    BASE_DIR,
    PYTHON,
    STARTUP_TIMEOUT,
    ServerError,
    free_port,
    log_tail,
    proc_rss_kib,
    serve_worker_pids,
    spawn,
    stop_process,
)
from harness.redis_server import RedisServer


class Database:
    """A fresh database for the processes.

    - TEST_DATABASE_URL (or `url`): that database, emptied first (it must be a test
      database);
    - else, when DATABASE_URL names a PostgreSQL server: a new database on that
      server, `<name>_procs_<random>`, dropped by `close()`;
    - else a temporary SQLite file.
    """

    def __init__(self, workdir: Path, url: str | None = None) -> None:
        self.workdir = workdir
        given = url or os.environ.get("TEST_DATABASE_URL", "")
        self.flush_first = bool(given)
        self.created_name: str | None = None
        self._server_url: str | None = None
        server = os.environ.get("DATABASE_URL", "")
        if given:
            self.url = given
        elif is_postgres_url(server):
            parts = urllib.parse.urlsplit(server)
            base = parts.path.lstrip("/") or "relay"
            # PostgreSQL names are at most 63 bytes.
            name = f"{base[:40]}_procs_{secrets.token_hex(4)}"
            self.url = urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
            # The maintenance database, for CREATE and DROP (libpq's URL scheme).
            self._server_url = urllib.parse.urlunsplit(
                parts._replace(scheme="postgresql", path="/postgres")
            )
            self.created_name = name
        else:
            self.url = f"sqlite:///{workdir / 'db.sqlite3'}"

    def describe(self) -> str:
        """Say which database the processes use (for the test log)."""
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme.startswith("sqlite"):
            return f"SQLite file {self.url.removeprefix('sqlite:///')}"
        where = f"{parts.hostname}:{parts.port or 5432}"
        name = parts.path.lstrip("/")
        if self.created_name:
            return f"PostgreSQL database {name} on {where} (made for this run, dropped after)"
        return f"{parts.scheme} database {name} on {where} (TEST_DATABASE_URL, flushed first)"

    def _admin(self, sql: str) -> None:
        import psycopg  # only needed for PostgreSQL

        with psycopg.connect(self._server_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def prepare(self, env: dict[str, str]) -> None:
        if self.created_name:
            self._admin(f'CREATE DATABASE "{self.created_name}"')
        manage(["migrate", "--noinput"], env=env)
        if self.flush_first:
            manage(["flush", "--noinput"], env=env)

    def close(self) -> None:
        """Drop the database this object made (nothing else), even with connections open."""
        if self.created_name:
            self._admin(f'DROP DATABASE IF EXISTS "{self.created_name}" WITH (FORCE)')
            self.created_name = None


def is_postgres_url(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in {"postgres", "postgresql", "pgsql", "postgis"}


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


class ServeWorker(Worker):
    """`manage.py serve --workers 1` on a loopback port: a supervisor and one Daphne
    child in one process group, with production's graceful 1001 shutdown and the
    guard against clients that stop reading.

    `stop(sig=signal.SIGKILL)` kills the whole group, so the supervisor does not
    restart the child; `terminate()` sends SIGTERM to the supervisor alone, which
    stops its worker gracefully.
    """

    def __init__(
        self,
        env: dict[str, str],
        workdir: Path,
        *,
        port: int | None = None,
        grace: float = 5.0,
    ) -> None:
        super().__init__(env, workdir, port=port)
        self.grace = grace

    @property
    def log_path(self) -> Path:
        return self.workdir / f"serve-{self.port}.log"

    def start(self) -> ServeWorker:
        args = [
            PYTHON,
            "manage.py",
            "serve",
            "--workers",
            "1",
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--grace",
            str(self.grace),
        ]
        self.process = spawn(args, env=self.env, log_path=self.log_path)
        self.wait_healthy()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """SIGTERM to the supervisor only, as a process manager would send it."""
        if self.alive():
            os.kill(self.process.pid, signal.SIGTERM)

    def daphne_pid(self) -> int | None:
        """The pid of the Daphne child (None when it is not running)."""
        if not self.alive():
            return None
        children = serve_worker_pids(self.process.pid)
        return children[0] if children else None

    def rss_kib(self) -> int:
        """Resident memory of the Daphne child, in KiB (from /proc/<pid>/status)."""
        pid = self.daphne_pid()
        if pid is None:
            raise ServerError(f"no Daphne child under serve on {self.port}")
        return proc_rss_kib(pid)


class RunserverWorker(Worker):
    """`manage.py runserver --noreload` on a loopback port: Daphne's development
    server (the `daphne` app first in INSTALLED_APPS), as a developer launches it."""

    @property
    def log_path(self) -> Path:
        return self.workdir / f"runserver-{self.port}.log"

    def start(self) -> RunserverWorker:
        args = [PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"]
        self.process = spawn(args, env=self.env, log_path=self.log_path)
        self.wait_healthy()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


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
                # Uploaded files stay in this stack's own directory.
                "DJANGO_MEDIA_ROOT": str(self.workdir / "media"),
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

    def start_worker(
        self,
        *,
        port: int | None = None,
        serve: bool = False,
        runserver: bool = False,
        extra_env: dict[str, str] | None = None,
        grace: float = 5.0,
    ) -> Worker:
        """Start a worker: plain Daphne, with `serve` a `manage.py serve`
        supervisor and child (a ServeWorker), with `runserver` Daphne's
        `manage.py runserver`. `extra_env` adds to this worker's environment only."""
        env = {**self.env, **(extra_env or {})}
        if serve:
            worker: Worker = ServeWorker(env, self.workdir, port=port, grace=grace)
        elif runserver:
            worker = RunserverWorker(env, self.workdir, port=port)
        else:
            worker = Worker(env, self.workdir, port=port)
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

    def create_users(
        self, usernames: list[str], password: str, *, staff: list[str] | tuple = ()
    ) -> dict[str, int]:
        """Create active users in one process (the password hashed once); the ones
        in `staff` are staff superusers. Return username -> id."""
        return self.shell(
            "from django.contrib.auth import get_user_model\n"
            "from django.contrib.auth.hashers import make_password\n"
            "User = get_user_model()\n"
            "hashed = make_password(args['password'])\n"
            "staff = set(args['staff'])\n"
            "User.objects.bulk_create([User(username=name, password=hashed,"
            " is_staff=name in staff, is_superuser=name in staff) for name in args['names']])\n"
            "print(json.dumps(dict(User.objects.filter(username__in=args['names'])"
            ".values_list('username', 'pk'))))",
            names=list(usernames),
            password=password,
            staff=list(staff),
        )

    def close(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(Exception):
                worker.stop(sig=signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.redis.stop()
        try:
            self.database.close()
        except Exception as error:
            print(f"could not drop the test database: {error}", file=sys.stderr)
        self._tempdir.cleanup()
