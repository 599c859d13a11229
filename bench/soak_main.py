"""The soak benchmark of bench/README.md ("Soak"): nothing lost, nothing leaked.

    bash bench/soak [--minutes 20] [--clients 500] [--rooms 50] [--rate 50]

Two `manage.py serve` workers with production settings, a private redis-server and
a database of its own; the clients of bench/node/soak.js send and receive in every
room for `--minutes` while a worker is SIGKILLed every 3 minutes, Redis restarts
every 5 minutes and /healthz is probed every second. Writes
bench/results/<stamp>-soak.json and <stamp>-soak.md (also printed) and keeps every
process's log in <stamp>-soak-logs/. Exit code: 0 when every check passes, 1 when
one fails (a lost or duplicated message, a leak), 2 when the soak itself could not
run, 130 when interrupted. Everything it started is stopped in every case.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import subprocess
import sys
import time
import traceback

from bench import soak_report
from bench.procs import (
    ROOT,
    BenchError,
    Database,
    Loadgen,
    OursServer,
    app_env,
    bench_redis,
    git_commit,
    rss_kib,
    seed,
    server_problems,
    wait_quiet,
)
from bench.seed import room_slug
from bench.soak_faults import Faults
from bench.soak_health import HealthProbe
from bench.soak_redis import census

RESULTS = ROOT / "bench" / "results"
PROGRESS_EVERY = 30.0


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] soak: {text}", flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--minutes", type=float, default=20.0, help="how long the load runs (default 20)")
    add("--clients", type=int, default=500, help="room sockets, one user each (default 500)")
    add("--rooms", type=int, default=50, help="rooms, the clients spread evenly (default 50)")
    add("--rate", type=float, default=50.0, help="messages per second in all (default 50)")
    add(
        "--reconnect",
        type=float,
        default=0.10,
        help="share of the clients that reconnect "
        "on purpose every minute, resuming with ?after= (default 0.10)",
    )
    add("--kill-every", type=float, default=180.0, help="seconds between worker kills (180)")
    add("--first-kill", type=float, default=60.0, help="first worker kill, seconds in (60)")
    add("--redis-every", type=float, default=300.0, help="seconds between Redis restarts (300)")
    add("--first-redis", type=float, default=150.0, help="first Redis restart, seconds in (150)")
    add("--redis-down", type=float, default=3.0, help="seconds Redis stays down (default 3)")
    add(
        "--quiet",
        type=float,
        default=30.0,
        help="final quiet period: seconds without a new "
        "delivery before what is missing counts as lost (default 30)",
    )
    add("--settle-max", type=float, default=180.0, help="longest final wait, seconds (180)")
    add("--no-warmup", action="store_true", help="take the baseline on fresh workers")
    add("--sqlite", action="store_true", help="SQLite even when PostgreSQL answers")
    return parser.parse_args()


def client_targets(server: OursServer, sessions: list[str], args) -> list[dict]:
    """Client i logs in as bench user i and joins room i % rooms, on serve's port."""
    base, origin = server.target(0)
    targets = []
    for index in range(args.clients):
        slug = room_slug(index % args.rooms)
        targets.append(
            {
                "url": f"{base}/ws/chat/{slug}/",
                "origin": origin,
                "session": sessions[index],
                "room": slug,
            }
        )
    return targets


def measure(server: OursServer, redis_url: str, *, settle: float = 30.0) -> dict:
    """Pub/sub channels and worker RSS once the workers are quiet and the channel
    count has stopped changing (leaving groups is asynchronous)."""
    wait_quiet(server.worker_pids(), timeout=settle)
    deadline = time.monotonic() + settle
    pubsub = census(redis_url)
    while time.monotonic() < deadline:
        time.sleep(1)
        again = census(redis_url)
        if again["channels"] == pubsub["channels"]:
            break
        pubsub = again
    rss = {str(pid): rss_kib(pid) for pid in server.worker_pids()}
    return {
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "pubsub": pubsub,
        "rss_kib": rss,
        "rss_kib_total": sum(rss.values()),
    }


def progress(elapsed: float, total: float, row: dict, probe: HealthProbe, redis_url: str) -> None:
    try:
        channels = f"{census(redis_url)['channels']:,}"
    except Exception:
        channels = "(Redis down)"
    closes = ", ".join(f"{code}: {n}" for code, n in sorted(row["closes"].items())) or "none"
    log(
        f"{elapsed / 60:4.1f}/{total / 60:g} min: ready {row['ready']}/{row['clients']}, "
        f"down {row['down_unplanned']}, sent {row['sent']:,}, acked {row['acked']:,}, "
        f"pending {row['pending']}, delivered {sum(row['delivered'].values()):,}, "
        f"closes {closes}, healthz failures {probe.failing_since(0)}, pub/sub channels {channels}"
    )


def run_load(args, server, redis, clients: Loadgen, probe: HealthProbe) -> tuple[list, Faults]:
    """The load with its faults, for args.minutes; return the timeline and faults."""
    seconds = args.minutes * 60
    faults = Faults(
        server,
        redis,
        seconds=seconds,
        kill_every=args.kill_every,
        first_kill=args.first_kill,
        redis_every=args.redis_every,
        first_redis=args.first_redis,
        redis_down=args.redis_down,
    )
    log("faults planned: " + ", ".join(f.label for f in faults.planned))
    clients.call(
        {"cmd": "load", "rate": args.rate, "churn_per_minute": args.clients * args.reconnect}
    )
    timeline: list[dict] = []
    started = time.monotonic()
    next_progress = PROGRESS_EVERY
    while (elapsed := time.monotonic() - started) < seconds:
        for fault in faults.run_due(elapsed):
            log(f"fault {fault.label}: {fault.details}")
        faults.check_recovery()
        if server.processes[0].poll() is not None:
            raise BenchError(f"manage.py serve exited:\n{server.logs()}")
        row = clients.call({"cmd": "stats"}, timeout=60)
        timeline.append(row)
        if elapsed >= next_progress:
            progress(elapsed, seconds, row, probe, redis.url)
            next_progress += PROGRESS_EVERY
        time.sleep(max(0.0, 1.0 - (time.monotonic() - started - elapsed)))
    faults.check_recovery()
    return timeline, faults


def soak(args, sessions: list[str], server: OursServer, redis, workdir) -> dict:
    clients = Loadgen(workdir, "soak.js")
    probe = HealthProbe(f"http://127.0.0.1:{server.ports[0]}/healthz")
    try:
        targets = client_targets(server, sessions, args)
        before = measure(server, redis.url)
        warm = None
        if not args.no_warmup:
            # CPython keeps the memory of freed sockets: one round of the same clients
            # first, so that the RSS baseline is the allocator's high-water mark, not
            # a fresh process. Redis keeps nothing of the kind: its baseline is `before`.
            log(f"warm-up: {args.clients} clients connect and leave")
            clients.call({"cmd": "connect", "targets": targets}, timeout=600)
            clients.call({"cmd": "close"}, timeout=120)
            clients.stop()
            clients = Loadgen(workdir, "soak.js")
            warm = measure(server, redis.url)
        baseline = warm or before
        log(
            f"before: {before['pubsub']['channels']} pub/sub channels "
            f"({baseline['pubsub']['channels']} after the warm-up), "
            f"{baseline['rss_kib_total'] / 1024:.1f} MiB worker RSS"
        )
        probe.start()
        connect = clients.call({"cmd": "connect", "targets": targets}, timeout=600)
        log(f"{connect['ready']}/{args.clients} clients connected in {connect['seconds']:.1f} s")
        timeline, faults = run_load(args, server, redis, clients, probe)
        stopped = clients.call({"cmd": "stop_load"})
        log(f"load stopped: sent {stopped['sent']:,}, pending {stopped['pending']}; settling")
        settle = clients.call(
            {"cmd": "settle", "quiet": args.quiet, "max": args.settle_max},
            timeout=args.settle_max + 60,
        )
        log(f"settled: {settle['outcome']} after {settle['seconds']:.0f} s")
        report = clients.call({"cmd": "report"}, timeout=120)
        clients.call({"cmd": "close"}, timeout=120)
        probe.stop()
        after = measure(server, redis.url)
    finally:
        clients.stop()
        probe.stop()
    fault_records = faults.records()
    close_log = report.pop("close_log")
    soak_report.fault_effects(fault_records, close_log, timeline)
    for message in report["lost_messages"]:
        message["fault"] = soak_report.attribute(fault_records, message["sent_at"])
    return {
        "connect": {k: connect[k] for k in ("seconds", "ready", "clients")},
        "settle": {k: settle[k] for k in ("outcome", "seconds")},
        "clients": report,
        "faults": fault_records,
        "health": probe.summary(),
        "before": before,
        "warm": warm,
        "after": after,
        "timeline": [
            {k: row[k] for k in ("t", "ready", "down_unplanned", "pending", "sent", "acked")}
            for row in timeline
        ],
    }


def _interrupt(signum, frame):
    # SIGTERM ends the soak like Ctrl-C: everything stopped, the database dropped.
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    args = parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S") + "-soak"
    workdir = RESULTS / f"{stamp}-logs"
    workdir.mkdir()
    started = time.monotonic()
    database = Database(workdir, allow_postgres=not args.sqlite)
    redis = bench_redis(workdir)
    server: OursServer | None = None
    engine = database.engine
    log(f"{stamp}: database {engine}, logs in {workdir.relative_to(ROOT)}")
    try:
        redis.start()
        env = {**app_env(database.url), "REDIS_URL": redis.url}
        sessions = seed(env, args.clients, args.rooms, workdir)
        server = OursServer(env, workdir).start()
        log(f"serve on port {server.ports[0]}, workers {server.worker_pids()}")
        result = soak(args, sessions, server, redis, workdir)
        result["server_log_problems"] = server_problems(server)
    except KeyboardInterrupt:
        log("interrupted: stopping everything")
        return 130
    except Exception:
        log(f"the soak could not run:\n{traceback.format_exc()}")
        if server is not None:
            print(server.logs(), file=sys.stderr)
        return 2
    finally:
        if server is not None:
            server.stop()
        redis.stop()
        try:
            database.drop()
        except Exception as error:
            print(f"could not drop the soak database: {error}", file=sys.stderr)
    result.update(
        {
            "stamp": stamp,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": git_commit(),
            "database": engine,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "node": subprocess.run(
                    ["node", "--version"], capture_output=True, text=True, check=False
                ).stdout.strip(),
            },
            "config": dict(vars(args)),
            "seconds": round(time.monotonic() - started),
        }
    )
    result["checks"] = soak_report.verdict(result)
    summary = soak_report.render(result)
    (RESULTS / f"{stamp}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"{stamp}.md").write_text(summary)
    print(summary)
    print(f"wrote bench/results/{stamp}.json and .md")
    return 0 if all(check["ok"] for check in result["checks"]) else 1


if __name__ == "__main__":
    sys.exit(main())
