"""Processes of a benchmark run: a private redis-server, a database of its own,
the three servers under test, and /proc readings (CPU seconds, resident memory,
open sockets) of any of them."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from harness.processes import free_port, log_tail, spawn, stop_process
from harness.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"


class BenchError(RuntimeError):
    """A process did not start or answer."""


# --- /proc ------------------------------------------------------------------


def _stat_fields(pid: int, tid: int | None = None) -> list[str] | None:
    path = f"/proc/{pid}/stat" if tid is None else f"/proc/{pid}/task/{tid}/stat"
    try:
        stat = Path(path).read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces.
    return stat[stat.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """utime + stime of `pid`, or of its thread `thread` alone (0 when it is gone)."""
    fields = _stat_fields(pid, thread)
    if fields is None:
        return 0.0
    # Fields 14 and 15 of /proc/<pid>/stat; the list starts at field 3.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_quiet(
    pids: list[int], *, below: float = 0.15, timeout: float = 20.0
) -> tuple[float, bool]:
    """Wait until the processes `pids` are done with the last step: together under
    `below` of a core, or steady under one core for 2 s (thousands of idle sockets
    cost a steady bit: pings, presence heartbeats). Return (seconds waited, quiet)."""
    started = time.monotonic()
    rates: list[float] = []
    last = sum(cpu_seconds(pid) for pid in pids)
    while time.monotonic() - started < timeout:
        time.sleep(0.5)
        now = sum(cpu_seconds(pid) for pid in pids)
        rates.append((now - last) / 0.5)
        last = now
        recent = rates[-4:]
        if len(recent) >= 2 and max(recent[-2:]) < below:
            return round(time.monotonic() - started, 1), True
        if len(recent) == 4 and max(recent) < 1.0 and max(recent) - min(recent) < 0.2:
            return round(time.monotonic() - started, 1), True
    return round(time.monotonic() - started, 1), False


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def child_pids(pid: int) -> list[int]:
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                children.append(int(entry.name))
    return sorted(children)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def pids_named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if comm == name:
                pids.append(int(entry.name))
    return pids


def socket_count(pid: int) -> int:
    """Open sockets of `pid` (TCP connections, listeners, Redis and database links)."""
    count = 0
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd).startswith("socket:"):
                    count += 1
    except OSError:
        pass
    return count


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        # Always one of our own loopback servers.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


# A full pass of the garbage collector this long or longer is counted apart.
LONG_GC_PASS = 0.5


def gc_full_passes(port: int, token: str) -> dict[str, float] | None:
    """The full passes of the garbage collector (relay_gc_pause_seconds,
    generation 2) that the app's /metrics on `port` reports, summed over its
    workers: how many, their seconds in all, and how many took LONG_GC_PASS or
    more. None if it does not answer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        # Always one of our own loopback servers.
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            text = response.read().decode()
    except (OSError, ValueError):
        return None
    passes = {"count": 0.0, "seconds": 0.0, "long": 0.0}
    for family in text_string_to_metric_families(text):
        if family.name != "relay_gc_pause_seconds":
            continue
        for sample in family.samples:
            if sample.labels.get("generation") != "2":
                continue
            if sample.name.endswith("_count"):
                passes["count"] += sample.value
            elif sample.name.endswith("_sum"):
                passes["seconds"] += sample.value
            elif sample.name.endswith("_bucket") and float(sample.labels["le"]) == LONG_GC_PASS:
                passes["long"] -= sample.value  # the passes under it
    passes["long"] += passes["count"]
    return passes


# --- Redis and the database -------------------------------------------------


def bench_redis(workdir: Path) -> RedisServer:
    """A private redis-server that takes the bench's thousands of clients."""
    return RedisServer(workdir, extra_args=("--maxclients", "20000"))


def postgres_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=3):
            return True
    except Exception:
        return False


class Database:
    """A PostgreSQL database of the bench's own (created, dropped after) when a
    server answers on 127.0.0.1:5432 as `postgres` with trust auth; else SQLite."""

    def __init__(self, workdir: Path, *, allow_postgres: bool = True) -> None:
        self.name: str | None = None
        if allow_postgres and postgres_available():
            self.name = f"relay_bench_{secrets.token_hex(4)}"
            self.url = f"postgres://postgres@127.0.0.1:5432/{self.name}"
            self._admin(f'CREATE DATABASE "{self.name}"')
        else:
            self.url = f"sqlite:///{workdir / 'bench.sqlite3'}"

    @property
    def engine(self) -> str:
        return "postgresql" if self.name else "sqlite"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql)

    def drop(self) -> None:
        if self.name:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
            self.name = None


@contextlib.contextmanager
def own_database(prefix: str, *, sqlite: bool) -> Iterator[tuple[dict[str, str], Path]]:
    """A database of the bench's own (Database) and the app's environment for it,
    with the in-process channel layer, and a scratch directory: for a
    measurement in one process (bench.sends, bench.logins). Dropped after."""
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        database = Database(Path(workdir), allow_postgres=not sqlite)
        try:
            env = app_env(database.url)
            env.pop("REDIS_URL", None)
            print(f"database: {database.engine}", flush=True)
            yield env, Path(workdir)
        finally:
            database.drop()


def app_env(database_url: str) -> dict[str, str]:
    """The app's environment for a benchmark: production settings (DEBUG off, a fresh
    secret key) over plain HTTP on loopback, with the per-user limits that would
    throttle thousands of bench users from one address turned off."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DJANGO_HTTPS": "0",
            "AUTH_RATE_LIMIT": "0",
            "CHAT_SEND_RATE_LIMIT": "0",
            "REALTIME_MAX_SOCKETS_PER_USER": "100000",
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
            # The bench reads the workers' own metrics (Server.gc_full_passes).
            "METRICS_TOKEN": secrets.token_urlsafe(24),
        }
    )
    return env


def seed(
    env: dict, users: int, rooms: int, workdir: Path, first: int = 0, room_members: int = 0
) -> list[str]:
    """Migrate, then make `users` users with a session each and `rooms` rooms,
    each with `room_members` of them as members (bench/seed.py); return the
    session keys, user N's at index N. With `first`, users `first`... join
    those made before (migrated already)."""
    out = workdir / f"sessions-{first}.json"
    if not first:
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=env,
            check=True,
            timeout=300,
        )
    args = ["--users", str(users), "--first", str(first), "--rooms", str(rooms), "--out", str(out)]
    args += ["--room-members", str(room_members)]
    subprocess.run([PYTHON, "-m", "bench.seed", *args], cwd=ROOT, env=env, check=True, timeout=600)
    return json.loads(out.read_text())["sessions"]


def git_commit() -> str:
    """The app's commit, with '+changes' when the work tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", ".", ":!bench")
    return commit + ("+changes" if dirty else "")


# --- the servers under test ---------------------------------------------------


class Server:
    """Two worker processes of one kind, and how clients reach them."""

    kind = ""
    ready_on = "open"  # the load generator counts a socket ready on open, or on hello
    reports_metrics = False  # this app's /metrics (gc_full_passes)

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.env = env
        self.workdir = workdir
        self.processes: list[subprocess.Popen] = []
        self.ports: list[int] = []

    def target(self, index: int) -> tuple[str, str]:
        """(ws base URL, Origin) for client `index`: spread over the ports."""
        port = self.ports[index % len(self.ports)]
        return f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}"

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def alive(self) -> bool:
        return (
            bool(self.processes)
            and all(p.poll() is None for p in self.processes)
            and len(self.worker_pids()) >= 2
        )

    def log_path(self, port: int) -> Path:
        return self.workdir / f"{self.kind}-{port}.log"

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while http_status(f"http://127.0.0.1:{port}/healthz") != 200:
                dead = [p for p in self.processes if p.poll() is not None]
                if dead or time.monotonic() > deadline:
                    raise BenchError(
                        f"{self.kind} on {port} did not start:\n{log_tail(self.log_path(port))}"
                    )
                time.sleep(0.1)

    def stop(self) -> None:
        for process in self.processes:
            stop_process(process)

    def logs(self) -> str:
        return "\n".join(log_tail(self.log_path(port), 40) for port in self.ports)

    def gc_full_passes(self) -> dict[str, float] | None:
        """gc_full_passes over every port (plain Daphne: a process each; `serve`
        reports all its workers on one); None for servers without the metric."""
        if not self.reports_metrics:
            return None
        total: Counter[str] = Counter()
        for port in self.ports:
            passes = gc_full_passes(port, self.env["METRICS_TOKEN"])
            if passes is None:
                return None
            total.update(passes)
        return dict(total)


class OursServer(Server):
    """The app as shipped: `manage.py serve --workers 2` on one port."""

    kind = "ours"
    ready_on = "hello"
    reports_metrics = True

    def start(self) -> OursServer:
        port = free_port()
        self.ports = [port]
        args = [
            PYTHON,
            "manage.py",
            "serve",
            "--workers",
            "2",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        self.processes = [spawn(args, env=self.env, log_path=self.log_path(port))]
        self.wait_healthy()
        deadline = time.monotonic() + 30
        while len(self.worker_pids()) < 2:
            if time.monotonic() > deadline:
                raise BenchError("serve did not start 2 workers")
            time.sleep(0.1)
        return self

    def worker_pids(self) -> list[int]:
        if not self.processes:
            return []
        # Its Daphne workers, not the task worker it also runs.
        return [pid for pid in child_pids(self.processes[0].pid) if b"--worker-fd" in _cmdline(pid)]


def daphne_command(application: str, port: int) -> list[str]:
    # -v 0: no access-log line per connection (serve writes none either).
    return [PYTHON, "-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", str(port), application]


class TwoPortServer(Server):
    """Two processes of one command on two ports; clients alternate between them."""

    def command(self, port: int) -> list[str]:
        raise NotImplementedError

    def env_for(self, port: int) -> dict:
        return self.env

    def start(self) -> Server:
        self.ports = [free_port(), free_port()]
        self.processes = [
            spawn(self.command(port), env=self.env_for(port), log_path=self.log_path(port))
            for port in self.ports
        ]
        self.wait_healthy()
        return self


class OursDaphneServer(TwoPortServer):
    """The app launched the way the Channels docs show: plain
    `daphne config.asgi:application`, two processes on two ports."""

    kind = "ours-daphne"
    ready_on = "hello"
    reports_metrics = True

    def command(self, port: int) -> list[str]:
        return daphne_command("config.asgi:application", port)


class OursRunserverServer(OursDaphneServer):
    """The app under Daphne's `manage.py runserver --noreload`, two processes on
    two ports (it logs every request and handshake, as it does for a developer)."""

    kind = "ours-runserver"

    def command(self, port: int) -> list[str]:
        return [PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


class StockServer(TwoPortServer):
    """The tutorial setup: `daphne bench.stock.asgi:application` on two ports."""

    kind = "stock"

    def command(self, port: int) -> list[str]:
        return daphne_command("bench.stock.asgi:application", port)

    def env_for(self, port: int) -> dict:
        return {**self.env, "DJANGO_SETTINGS_MODULE": "bench.stock.settings"}


class NodeServer(TwoPortServer):
    """The minimal Node ws + Redis pub/sub peer (bench/node/server.js) on two ports."""

    kind = "node"

    def command(self, port: int) -> list[str]:
        return ["node", str(ROOT / "bench" / "node" / "server.js")]

    def env_for(self, port: int) -> dict:
        return {**self.env, "PORT": str(port)}


def server_problems(server: Server) -> list[str]:
    """Worker restarts and ERROR lines in the server's logs, counted by message."""
    counts: Counter[str] = Counter()
    for port in server.ports:
        try:
            text = server.log_path(port).read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            if "exited" in line and "restarting" in line:
                counts[line.strip()[:160]] += 1
            elif " ERROR " in line:
                # Drop the timestamp: "2026-01-01 00:00:00,000 ERROR logger message".
                message = line.split(" ERROR ", 1)[1]
                counts[re.sub(r"[0-9a-f]{12,}", "*", message)[:160]] += 1
    return [f"{n} x {message}" for message, n in counts.most_common(12)]


SERVERS = {
    "ours": OursServer,
    "ours-daphne": OursDaphneServer,
    "ours-runserver": OursRunserverServer,
    "stock": StockServer,
    "node": NodeServer,
}


# --- the load generator -------------------------------------------------------


class Loadgen:
    """A Node script of bench/node/ (the load generator, loadgen.js, by default),
    driven by JSON lines."""

    def __init__(self, workdir: Path, script: str = "loadgen.js") -> None:
        self.process = spawn(
            ["node", "--max-old-space-size=4096", str(ROOT / "bench" / "node" / script)],
            env=dict(os.environ),
            log_path=workdir / f"{Path(script).stem}.log",
            pipes=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.put(raw.decode())
        self.lines.put(None)

    def send(self, cmd: dict) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(cmd) + "\n").encode())
        self.process.stdin.flush()

    def next_line(self, timeout: float) -> dict:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise BenchError(f"load generator silent for {timeout:.0f} s") from None
        if line is None:
            raise BenchError("load generator exited")
        return json.loads(line)

    def wait_done(self, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            answer = self.next_line(max(deadline - time.monotonic(), 0.1))
            if answer.get("done"):
                if not answer["ok"]:
                    raise BenchError(f"load generator: {answer['error']}")
                return answer["result"]

    def call(self, cmd: dict, timeout: float = 600.0) -> dict:
        self.send(cmd)
        return self.wait_done(timeout)

    def arm(self, cmd: dict, timeout: float = 30.0) -> None:
        """Start an 'external' measurement; return once it listens."""
        self.send(cmd)
        answer = self.next_line(timeout)
        if not answer.get("armed"):
            raise BenchError(f"load generator did not arm: {answer}")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.send({"cmd": "exit"})
            self.process.wait(timeout=5)
        stop_process(self.process)
