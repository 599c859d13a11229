"""Serve the app with N Daphne workers sharing one listening socket.

The parent binds the address once and hands the socket to every worker, so the
kernel spreads connections across them; it restarts a worker that dies and, on
SIGTERM or SIGINT, stops them all gracefully (sockets closed with 1001).

Beside the workers it runs the management commands of
settings.SERVE_SUPERVISED_COMMANDS (the background task worker), restarted the
same way, so one command runs everything the app needs.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from prometheus_client import multiprocess


class Command(BaseCommand):
    help = "Serve HTTP and WebSockets with N Daphne workers on one address."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
        parser.add_argument("--bind", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--grace",
            type=float,
            default=5.0,
            help="seconds a stopping worker waits for its sockets to close",
        )
        parser.add_argument(
            "--proxy-headers",
            action="store_true",
            help="trust X-Forwarded-For/-Proto from the proxy in front",
        )
        parser.add_argument(
            "--no-supervised",
            action="store_true",
            help="run only the Daphne workers, not settings.SERVE_SUPERVISED_COMMANDS "
            "(e.g. when the task worker runs elsewhere)",
        )
        # Internal: run one worker on an inherited socket.
        parser.add_argument("--worker-fd", type=int, help="(internal)")
        parser.add_argument("--worker-name", default="worker", help="(internal)")

    def handle(self, *args, **options):
        if options["worker_fd"] is not None:
            from realtime.worker import run_worker

            run_worker(
                fd=options["worker_fd"],
                grace=options["grace"],
                proxy_headers=options["proxy_headers"],
                worker_name=options["worker_name"],
            )
            return
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        self.supervise(options)

    def supervise(self, options) -> None:
        family = socket.AF_INET6 if ":" in options["bind"] else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((options["bind"], options["port"]))
        except OSError as exc:
            raise CommandError(
                f"Cannot listen on {options['bind']}:{options['port']}: {exc}"
            ) from exc
        listener.listen(2048)
        listener.set_inheritable(True)
        fd = listener.fileno()

        # Every worker writes its metrics here; /metrics on any of them reports all.
        own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
            prefix="relay-metrics-"
        )
        for stale in Path(metrics_dir).glob("*.db"):
            stale.unlink()
        hostname = socket.gethostname()
        host, port = listener.getsockname()[:2]

        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir}

        def worker(n: int) -> list[str]:
            command = [
                sys.executable,
                sys.argv[0],
                "serve",
                "--worker-fd",
                str(fd),
                "--worker-name",
                f"worker-{n}",
                "--grace",
                str(options["grace"]),
            ]
            if options["proxy_headers"]:
                command.append("--proxy-headers")
            return command

        # name -> command line; every one is started, watched and restarted alike.
        commands = {f"worker-{n}": worker(n) for n in range(options["workers"])}
        if not options["no_supervised"]:
            for line in settings.SERVE_SUPERVISED_COMMANDS:
                commands[line[0]] = [sys.executable, sys.argv[0], *line]

        def start(name: str) -> subprocess.Popen:
            if name.startswith("worker-"):
                worker_env = {**env, "REALTIME_WORKER_NAME": f"{hostname}:{port}/{name}"}
                return subprocess.Popen(commands[name], pass_fds=(fd,), env=worker_env)
            # The listening socket is closed in the others (close_fds).
            return subprocess.Popen(commands[name], env=env)

        children = {name: start(name) for name in commands}
        started = {name: time.monotonic() for name in children}
        quick_deaths = 0
        workers = [p for name, p in children.items() if name.startswith("worker-")]
        others = [f"{name} (pid {p.pid})" for name, p in children.items() if p not in workers]
        self.stdout.write(
            f"Serving http://{host}:{port}/ with {len(workers)} Daphne workers "
            f"(pids {', '.join(str(p.pid) for p in workers)})"
            + (f"; also running {', '.join(others)}" if others else ""),
        )
        self.stdout.flush()

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while not stopping:
            time.sleep(0.2)
            for name, process in list(children.items()):
                if process.poll() is not None and not stopping:
                    multiprocess.mark_process_dead(process.pid, metrics_dir)
                    # A child that dies at start will die again: give up then.
                    quick_deaths = quick_deaths + 1 if time.monotonic() - started[name] < 5 else 0
                    if quick_deaths >= 5:
                        self.stderr.write(f"{name} keeps dying at start; stopping")
                        stopping = True
                        break
                    self.stderr.write(f"{name} exited ({process.returncode}); restarting")
                    children[name] = start(name)
                    started[name] = time.monotonic()
        for process in children.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + options["grace"] + 10
        for process in children.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.kill()
        listener.close()
        if own_metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)
