"""Run the benchmark suite of bench/README.md against ours, stock and node.

    bash bench/run [--quick] [--kinds ours,stock,node] [--workloads idle,fanout,rooms,broadcast]

Writes bench/results/<stamp>.json, <stamp>.md (the table), <stamp>-cdf.png and,
for ours, the py-spy flamegraph <stamp>-ours-flame.svg and <stamp>-profile.txt.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from bench import profile, report
from bench.procs import (
    LONG_GC_PASS,
    PYTHON,
    ROOT,
    SERVERS,
    BenchError,
    Database,
    Loadgen,
    RedisServer,
    Server,
    app_env,
    bench_redis,
    cpu_seconds,
    git_commit,
    machine_busy_seconds,
    pids_named,
    rss_kib,
    seed,
    server_problems,
    socket_count,
    stop_process,
    wait_quiet,
)
from bench.seed import FANOUT_ROOM, JOIN_ROOM, room_slug

RESULTS = ROOT / "bench" / "results"
NOTIFICATIONS_PATH = "/ws/notifications/"
# In run order: idle first, on fresh workers (freed memory is not returned to the
# OS); join last (its presence storm may leave workers busy or bloated).
# The moonshot after join: it holds the most sockets of all.
# Members sending at once in the fanout's second burst (a busy room).
BURST_SENDERS = 10

WORKLOADS = ["idle", "fanout", "rooms", "broadcast", "join", "moonshot"]
# The app under its other launches (plain `daphne config.asgi:application`,
# `manage.py runserver`) runs the workloads where the launch can matter: the
# socket's send path (fanout), handshakes (join) and the stored sends of many rooms.
KIND_WORKLOADS = {
    "ours": WORKLOADS,
    "ours-daphne": ["fanout", "rooms", "join"],
    "ours-runserver": ["fanout"],
    # The tutorial needs minutes for the moonshot's handshakes: the target is ours.
    "stock": [w for w in WORKLOADS if w != "moonshot"],
    "node": WORKLOADS,
}
# On a second database (SQLite after PostgreSQL) only the workloads that store.
STORING_WORKLOADS = ["rooms"]


@dataclass
class Plan:
    quick: bool
    kinds: list[str]
    workloads: list[str]
    fanout_sizes: list[int]
    singles: int = 5
    paced_seconds: float = 10.0
    # Offered deliveries per second in the paced run (messages/s = this / C): under
    # what every server sustains on 2 cores, so latencies are not queueing.
    paced_deliveries: int = 2_000
    # A burst is this many deliveries (messages x C): enough CPU time to measure
    # in clock ticks (10 ms). At 20,000, node's figure spread over 62,500-181,818
    # deliveries per CPU-second between runs: 11-32 ticks.
    burst_deliveries: int = 100_000
    # Fanout sockets belong to this many users (round-robin): see workload_join.
    fanout_users: int = 100
    join_sizes: list[int] = field(default_factory=lambda: [500, 2000])
    rooms: int = 200
    room_members: int = 10
    room_rates: list[int] = field(default_factory=lambda: [200, 1000])
    room_seconds: float = 10.0
    idle_clients: int = 1000
    # Past the first periodic checks of every socket (members online: 30 s,
    # give or take a quarter) and a ping of each client (every 25 s).
    idle_hold_seconds: float = 45.0
    broadcast_clients: int = 10_000
    broadcasts: int = 3
    # The moonshot: this many clients (a room socket and a notifications socket
    # each) connected within moonshot_seconds, then one broadcast to them all.
    moonshot_clients: int = 20_000
    moonshot_seconds: float = 60.0
    profile_clients: int = 2000
    profile_seconds: float = 10.0
    profile: bool = True
    concurrency: int = 100
    join_concurrency: int = 50  # handshakes in flight in the join workload
    drain: float = 30.0  # seconds a run waits for deliveries after its last send

    @classmethod
    def make(cls, args) -> Plan:
        if args.quick:
            plan = cls(
                quick=True,
                kinds=args.kinds,
                workloads=args.workloads or ["idle", "fanout", "rooms", "broadcast"],
                fanout_sizes=args.sizes or [1000],
                join_sizes=args.joins or [500],
                singles=3,
                paced_seconds=4.0,
                burst_deliveries=10_000,
                room_seconds=3.0,
                idle_clients=300,
                idle_hold_seconds=5.0,
                broadcast_clients=500,
                broadcasts=1,
                moonshot_clients=1000,
                profile_clients=1000,
                profile_seconds=5.0,
                drain=15.0,
            )
        else:
            plan = cls(
                quick=False,
                kinds=args.kinds,
                workloads=args.workloads or list(WORKLOADS),
                fanout_sizes=args.sizes or [500, 2000, 5000],
                join_sizes=args.joins or [500, 2000],
            )
        plan.fanout_sizes = sorted(plan.fanout_sizes)
        if plan.profile_clients not in plan.fanout_sizes:
            plan.profile_clients = min(plan.fanout_sizes, key=lambda c: abs(c - 2000))
        plan.profile = not args.no_profile
        return plan

    def users_needed(self) -> int:
        return max(
            [
                self.idle_clients,
                self.rooms * self.room_members,
                self.broadcast_clients,
                self.profile_clients,
                *self.fanout_sizes,
                *self.join_sizes,
            ]
        )


class Meter:
    """CPU seconds of the server's workers, Redis, PostgreSQL and the load
    generator between start() and stop()."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def _read(self) -> dict[str, float]:
        ctx = self.ctx
        return {
            "server": sum(cpu_seconds(pid) for pid in ctx.server.worker_pids()),
            # The part of "server" in the workers' main threads: their event loops.
            "server_main": sum(cpu_seconds(pid, pid) for pid in ctx.server.worker_pids()),
            "redis": cpu_seconds(ctx.redis.pid),
            "loadgen": cpu_seconds(ctx.loadgen.pid),
            "postgres": sum(cpu_seconds(pid) for pid in pids_named("postgres")),
            "machine": machine_busy_seconds(),
            "wall": time.monotonic(),
        }

    def start(self) -> Meter:
        self.before = self._read()
        return self

    def stop(self) -> dict[str, float]:
        after = self._read()
        delta = {k: round(after[k] - self.before[k], 3) for k in after}
        delta["wall"] = round(after["wall"] - self.before["wall"], 3)
        # Whatever else ran on the machine meanwhile (it shares the cores).
        ours = delta["server"] + delta["redis"] + delta["loadgen"] + delta["postgres"]
        delta["other"] = round(max(delta.pop("machine") - ours, 0.0), 3)
        # A PostgreSQL backend that exits takes its CPU time with it.
        delta["postgres"] = max(delta["postgres"], 0.0)
        return delta


@dataclass
class Context:
    kind: str
    plan: Plan
    server: Server
    redis: RedisServer
    loadgen: Loadgen
    sessions: list[str]
    env: dict[str, str]
    workdir: Path
    stamp: str
    results: dict = field(default_factory=dict)

    @property
    def ours(self) -> bool:
        """The app under test, however it is launched (ours, ours-daphne, ...)."""
        return self.kind.startswith("ours")

    def log(self, text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {self.kind}: {text}", flush=True)

    def targets(
        self, path: str, clients: range, group: str | list[str], users: int | None = None
    ) -> list[dict]:
        """Client `index` logs in as user `index` (or `index % users`: several sockets
        per user) and connects to `path` on the server's port for that index."""
        targets = []
        for n, index in enumerate(clients):
            base, origin = self.server.target(index)
            targets.append(
                {
                    "url": base + path,
                    "origin": origin,
                    "session": self.sessions[index % users if users else index],
                    "group": group if isinstance(group, str) else group[n],
                }
            )
        return targets

    def connect(
        self, targets: list[dict], *, deadline: float = 300, concurrency: int | None = None
    ) -> dict:
        result = self.loadgen.call(
            {
                "cmd": "connect",
                "targets": targets,
                "readyOn": self.server.ready_on,
                "concurrency": concurrency or self.plan.concurrency,
                "timeout": 30,
                "deadline": deadline,
                # The app closes sockets silent for 90 s; the browser pings every 25 s.
                "ping": self.ours,
            },
            timeout=deadline + 60,
        )
        if result["failures"]:
            self.log(f"connect failures: {result['failures']}")
        return result

    def close_all(self) -> dict:
        result = self.loadgen.call({"cmd": "close", "timeout": 30}, timeout=90)
        self.wait_quiet()
        return result

    def wait_quiet(self, *, below: float = 0.15, timeout: float = 20.0) -> float:
        """Wait until the workers are done with the last step (procs.wait_quiet);
        return the seconds waited."""
        waited, quiet = wait_quiet(self.server.worker_pids(), below=below, timeout=timeout)
        if not quiet:
            self.log(f"workers still busy after {timeout:.0f} s")
        return waited

    def worker_sockets(self) -> list[int]:
        return [socket_count(pid) for pid in self.server.worker_pids()]

    def gc_full_passes_since(self, before: dict[str, float] | None) -> dict[str, float] | None:
        """The workers' full garbage-collector passes since `before` (an earlier
        server.gc_full_passes()): how many, seconds in all, how many took
        procs.LONG_GC_PASS or more. None for servers without the metric."""
        after = self.server.gc_full_passes()
        if before is None or after is None:
            return None
        passes = {key: round(after[key] - before[key], 3) for key in after}
        passes["long_from_seconds"] = LONG_GC_PASS
        return passes

    def measure(self, cmd: dict, timeout: float = 600) -> dict:
        meter = Meter(self).start()
        result = self.loadgen.call(
            {"cmd": "measure", "check_seq": self.ours, **cmd}, timeout=timeout
        )
        result["cpu"] = meter.stop()
        add_cpu_ratios(result)
        self.wait_quiet()
        return result


def add_cpu_ratios(result: dict) -> None:
    cpu, delivered = result["cpu"], result["delivered"]
    wall = max(result["span_seconds"] or cpu["wall"], 1e-9)
    if delivered:
        result["server_cpu_ms_per_1000"] = round(cpu["server"] / delivered * 1e6, 1)
        result["redis_cpu_ms_per_1000"] = round(cpu["redis"] / delivered * 1e6, 1)
    result["deliveries_per_cpu_second"] = (
        round(delivered / cpu["server"]) if cpu["server"] > 0 else None
    )
    result["loadgen_cpu_percent"] = round(cpu["loadgen"] / cpu["wall"] * 100, 1)
    result["server_cpu_percent"] = round(cpu["server"] / cpu["wall"] * 100, 1)
    result["redis_cpu_percent"] = round(cpu["redis"] / cpu["wall"] * 100, 1)
    result["other_cpu_percent"] = round(cpu["other"] / cpu["wall"] * 100, 1)
    result["cores_busy_during_span"] = round(cpu["server"] / wall, 2)


def compact(result: dict) -> dict:
    """A measurement without its bulky CDF (kept separately for the plot)."""
    return {k: v for k, v in result.items() if k != "cdf"}


# --- workloads ------------------------------------------------------------------


# Clients that connect and leave before the idle workload measures.
IDLE_WARMUP_CLIENTS = 100


def workload_idle(ctx: Context) -> dict:
    """Memory per idle logged-in client (room + notifications socket) and handshakes/s."""
    plan = ctx.plan
    clients = plan.idle_clients
    rooms = [room_slug(i % plan.rooms) for i in range(clients)]
    targets = []
    for index, target in enumerate(ctx.targets("", range(clients), "idle")):
        room = dict(target, url=target["url"] + f"/ws/chat/{rooms[index]}/")
        bell = dict(target, url=target["url"] + NOTIFICATIONS_PATH)
        targets += [room, bell]
    # A fresh worker's first sockets also start what every later one shares
    # (its database threads and their connections, caches, the allocator's
    # arenas): a few clients come and go first, so the growth measured below
    # is what the sockets themselves cost.
    ctx.wait_quiet()
    rss_fresh = sum(rss_kib(pid) for pid in ctx.server.worker_pids())
    warm = targets[: 2 * IDLE_WARMUP_CLIENTS]
    ctx.log(f"idle: warming up the workers with {len(warm) // 2} clients")
    ctx.connect(warm)
    ctx.close_all()
    rss_before = sum(rss_kib(pid) for pid in ctx.server.worker_pids())
    ctx.log(f"idle: connecting {clients} clients ({len(targets)} sockets)")
    meter = Meter(ctx).start()
    connect = ctx.connect(targets)
    cpu = meter.stop()
    quiet = ctx.wait_quiet()
    meter = Meter(ctx).start()
    time.sleep(3)
    idle_cpu = meter.stop()
    rss_after = sum(rss_kib(pid) for pid in ctx.server.worker_pids())
    # Then held open long enough for what comes later to every socket (pings,
    # each socket's first periodic checks, the objects those leave behind):
    # what an idle crowd costs once it has been there a while, not just
    # after it connected.
    ctx.log(f"idle: holding {plan.idle_hold_seconds:.0f} s")
    meter = Meter(ctx).start()
    time.sleep(plan.idle_hold_seconds)
    held_cpu = meter.stop()
    rss_held = sum(rss_kib(pid) for pid in ctx.server.worker_pids())
    sockets = connect["ready"]
    result = {
        "clients": clients,
        "sockets": sockets,
        "connect": connect,
        "connect_cpu": cpu,
        "server_cpu_ms_per_handshake": round(cpu["server"] / max(sockets, 1) * 1000, 3),
        "settle_seconds": quiet,
        "idle_cpu_percent": round(idle_cpu["server"] / idle_cpu["wall"] * 100, 1),
        "worker_sockets": ctx.worker_sockets(),
        "rss_kib_before": rss_before,
        "rss_kib_after": rss_after,
        "kib_per_socket": round((rss_after - rss_before) / max(sockets, 1), 2),
        # The same from the fresh workers, their one-time start included.
        "rss_kib_fresh": rss_fresh,
        "kib_per_socket_from_fresh": round((rss_after - rss_fresh) / max(sockets, 1), 2),
        "kib_per_client": round((rss_after - rss_before) / max(sockets / 2, 1), 2),
        "handshakes_per_second": round(connect["per_second"], 1),
        "held_seconds": plan.idle_hold_seconds,
        "held_cpu_percent": round(held_cpu["server"] / held_cpu["wall"] * 100, 1),
        "held_kib_per_socket": round((rss_held - rss_before) / max(sockets, 1), 2),
    }
    ctx.log(
        f"idle: {sockets} sockets, {result['kib_per_socket']} KiB/socket "
        f"({result['held_kib_per_socket']} after {plan.idle_hold_seconds:.0f} s), "
        f"{result['handshakes_per_second']} handshakes/s"
    )
    ctx.close_all()
    return result


def workload_join(ctx: Context) -> dict:
    """Many distinct users joining one room at once, for each size in turn (the
    room is emptied in between): handshakes/s, server CPU, presence frames.

    Each user coming online in a room is announced to everyone in the room
    (presence): the frames it costs must not grow with the square of the room.
    The fanout workload spreads its C sockets over `fanout_users` users.
    """
    return {str(clients): join_at(ctx, clients) for clients in ctx.plan.join_sizes}


def join_at(ctx: Context, clients: int) -> dict:
    ctx.log(f"join: {clients} distinct users into one room, {ctx.plan.join_concurrency} at a time")
    targets = ctx.targets(f"/ws/chat/{JOIN_ROOM}/", range(clients), "join")
    frames_before = ctx.loadgen.call({"cmd": "stats"})["idle_frames"]
    gc_before = ctx.server.gc_full_passes()
    meter = Meter(ctx).start()
    connect = ctx.connect(targets, deadline=300, concurrency=ctx.plan.join_concurrency)
    cpu_connect = meter.stop()
    gc_passes = ctx.gc_full_passes_since(gc_before)
    settle = ctx.wait_quiet(timeout=120)
    cpu = meter.stop()
    result = {
        "clients": clients,
        "connect": connect,
        "connect_cpu": cpu_connect,
        "cpu_until_quiet": cpu,
        "settle_seconds": settle,
        "server_cpu_ms_per_socket": round(cpu["server"] / max(connect["ready"], 1) * 1000, 1),
        "server_cpu_ms_per_handshake": round(
            cpu_connect["server"] / max(connect["ready"], 1) * 1000, 2
        ),
        # Frames the sockets got besides hello (presence lists), until quiet.
        "frames_received": ctx.loadgen.call({"cmd": "stats"})["idle_frames"] - frames_before,
        "gc_full_passes": gc_passes,
    }
    ctx.log(
        f"join: {connect['ready']}/{clients} in {connect['seconds']:.1f} s "
        f"({connect['per_second']:.0f}/s), failures {connect['failures']}, "
        f"{result['server_cpu_ms_per_socket']} ms server CPU per socket until quiet"
    )
    ctx.close_all()
    return result


def workload_fanout(ctx: Context) -> dict:
    """C clients in one room, one sender: single messages, paced, burst, for each C
    in turn (the room grows: sockets are added, never reconnected)."""
    plan = ctx.plan
    results: dict = {}
    connected = 0
    for clients in sorted(plan.fanout_sizes):
        started = time.monotonic()
        try:
            results[str(clients)] = fanout_at(ctx, connected, clients)
        except Exception as error:
            ctx.log(f"fanout C={clients} failed: {error}")
            results[str(clients)] = {
                "error": f"{type(error).__name__}: {error}",
                "trace": traceback.format_exc()[-3000:],
            }
            break
        connected = clients
        ctx.log(f"fanout C={clients} took {time.monotonic() - started:.0f} s")
        if clients == plan.profile_clients and ctx.kind == "ours" and plan.profile:
            # Ten times the paced run's load (20,000 deliveries/s offered): the workers
            # are busy for the whole recording.
            cmd = {
                "groups": ["fanout"],
                "senders_per_room": 1,
                "rate": 10 * plan.paced_deliveries / clients,
            }
            profile_pass(ctx, f"fanout-{clients}", cmd)
    ctx.close_all()
    return results


def profile_pass(ctx: Context, name: str, cmd: dict) -> None:
    try:
        result = workload_profile(ctx, name, cmd)
    except Exception as error:
        result = {"error": f"{type(error).__name__}: {error}"}
    ctx.results.setdefault("profile", {})[name] = result


def fanout_at(ctx: Context, connected: int, clients: int) -> dict:
    plan = ctx.plan
    ctx.log(f"fanout C={clients}: connecting {clients - connected} more")
    targets = ctx.targets(
        f"/ws/chat/{FANOUT_ROOM}/", range(connected, clients), "fanout", users=plan.fanout_users
    )
    meter = Meter(ctx).start()
    connect = ctx.connect(targets)
    connect_cpu = meter.stop()
    settle = ctx.wait_quiet(timeout=120)
    ready = ctx.loadgen.call({"cmd": "stats"})["open"]
    result = {
        "clients": clients,
        "connected": ready,
        "users": plan.fanout_users,
        "connect": connect,
        "connect_cpu": connect_cpu,
        "settle_seconds": settle,
        "worker_sockets": ctx.worker_sockets(),
    }
    if ready < clients * 0.9:
        raise BenchError(f"only {ready} of {clients} sockets connected")
    base = {"groups": ["fanout"], "senders_per_room": 1}
    single = ctx.measure(
        {**base, "mode": "single", "count": plan.singles, "drain": plan.drain, "gap": 0.3}
    )
    lasts = [s["last_ms"] for s in single["singles"] if s["last_ms"] is not None]
    single["last_delivery_ms_median"] = round(sorted(lasts)[len(lasts) // 2], 1) if lasts else None
    single["last_delivery_ms_max"] = round(max(lasts), 1) if lasts else None
    ctx.log(
        f"fanout C={clients} single: last delivery {single['last_delivery_ms_median']} ms "
        f"(median of {len(lasts)}), lost {single['lost']}"
    )
    rate = plan.paced_deliveries / clients
    count = max(3, round(rate * plan.paced_seconds))
    paced = ctx.measure(
        {**base, "mode": "paced", "rate": rate, "count": count, "drain": plan.drain}
    )
    paced["rate"] = rate
    ctx.log(
        f"fanout C={clients} paced {rate:.2f}/s: {paced['deliveries_per_second'] or 0:.0f} "
        f"deliveries/s, p99 {(paced['latency_ms'] or {}).get('p99')} ms, lost {paced['lost']}, "
        f"{paced['deliveries_per_cpu_second']} per CPU-s"
    )
    count = max(5, round(plan.burst_deliveries / clients))
    burst = ctx.measure({**base, "mode": "burst", "count": count, "drain": 2 * plan.drain})
    ctx.log(
        f"fanout C={clients} burst of {count}: {burst['deliveries_per_second'] or 0:.0f} "
        f"deliveries/s, lost {burst['lost']}, {burst['deliveries_per_cpu_second']} per CPU-s"
    )
    # A busy room: as many messages, each from another member, all at once.
    crowd = ctx.measure(
        {
            **base,
            "senders_per_room": BURST_SENDERS,
            "mode": "burst",
            "count": count,
            "drain": 2 * plan.drain,
        }
    )
    ctx.log(
        f"fanout C={clients} burst of {count} from {BURST_SENDERS} senders: "
        f"{crowd['deliveries_per_second'] or 0:.0f} deliveries/s, lost {crowd['lost']}, "
        f"{crowd['deliveries_per_cpu_second']} per CPU-s"
    )
    cdfs = {}
    runs = (("single", single), ("paced", paced), ("burst", burst), ("burst_senders", crowd))
    for name, run in runs:
        cdfs[name] = run.get("cdf", [])
        result[name] = compact(run)
    result["cdf"] = cdfs
    return result


def workload_rooms(ctx: Context) -> dict:
    """R rooms x M members, sends spread over the rooms at a fixed total rate."""
    plan = ctx.plan
    total = plan.rooms * plan.room_members
    groups = [f"r{i}" for i in range(plan.rooms)]
    member_groups = [groups[i // plan.room_members] for i in range(total)]
    targets = ctx.targets("", range(total), member_groups)
    for index, target in enumerate(targets):
        target["url"] += f"/ws/chat/{room_slug(index // plan.room_members)}/"
    ctx.log(f"rooms: connecting {plan.rooms} x {plan.room_members}")
    connect = ctx.connect(targets)
    settle = ctx.wait_quiet(timeout=120)
    result = {
        "rooms": plan.rooms,
        "members": plan.room_members,
        "connect": connect,
        "settle_seconds": settle,
        "runs": {},
        "cdf": {},
    }
    for rate in plan.room_rates:
        # At most 5,000 sends: an overloaded server works off its backlog afterwards.
        count = round(rate * min(plan.room_seconds, 5000 / rate))
        run = ctx.measure(
            {
                "groups": groups,
                "senders_per_room": plan.room_members,
                "mode": "paced",
                "rate": rate,
                "count": count,
                "drain": plan.drain,
            }
        )
        run["rate"] = rate
        ctx.log(
            f"rooms {rate}/s: p50 {(run['latency_ms'] or {}).get('p50')} "
            f"p99 {(run['latency_ms'] or {}).get('p99')} ms, lost {run['lost']}, "
            f"errors {run['errors']}"
        )
        result["cdf"][str(rate)] = run.get("cdf", [])
        result["runs"][str(rate)] = compact(run)
    if ctx.kind == "ours" and plan.profile and not plan.quick:
        cmd = {
            "groups": groups,
            "senders_per_room": plan.room_members,
            "rate": min(plan.room_rates) / 2,
        }
        profile_pass(ctx, "rooms", cmd)
    ctx.close_all()
    return result


def workload_broadcast(ctx: Context) -> dict:
    """Every client on the notifications socket; one broadcast: call to last delivery."""
    plan = ctx.plan
    clients = plan.broadcast_clients
    ctx.log(f"broadcast: connecting {clients} notification sockets")
    targets = ctx.targets(NOTIFICATIONS_PATH, range(clients), "notif")
    connect = ctx.connect(targets)
    settle = ctx.wait_quiet(timeout=120)
    result = {
        "clients": clients,
        "connect": connect,
        "settle_seconds": settle,
        "worker_sockets": ctx.worker_sockets(),
    }
    result.update(broadcast_calls(ctx, "notif", plan.broadcasts))
    ctx.close_all()
    return result


def broadcast_calls(ctx: Context, group: str, calls: int) -> dict:
    """`calls` broadcasts one at a time to the sockets of loadgen `group`: each
    call's time and the time from it to the last delivery, losses."""
    result: dict = {"runs": [], "cdf": {}}
    for n in range(calls):
        run_id = secrets.randbelow(10**8) + 10**8
        ctx.loadgen.arm(
            {
                "cmd": "measure",
                "mode": "external",
                "groups": [group],
                "count": 1,
                "run_id": run_id,
                "timeout": 60,
            }
        )
        meter = Meter(ctx).start()
        call = subprocess.run(
            [
                PYTHON,
                "-m",
                "bench.trigger",
                "ours" if ctx.ours else ctx.kind,
                "--run-id",
                str(run_id),
            ],
            cwd=ROOT,
            env=ctx.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if call.returncode != 0:
            raise BenchError(f"broadcast trigger failed:\n{call.stderr[-3000:]}")
        run = ctx.loadgen.wait_done(120)
        run["cpu"] = meter.stop()
        add_cpu_ratios(run)
        run["call"] = json.loads(call.stdout.strip().splitlines()[-1])
        run["call"]["call_ms"] = round(run["call"]["returned_ms"] - run["call"]["started_ms"], 1)
        completion = run["completion_ms"] or {}
        run["call_to_last_delivery_ms"] = completion.get("max")
        ctx.log(
            f"broadcast {n + 1}: call to last delivery {run['call_to_last_delivery_ms']} ms, "
            f"delivered {run['delivered']}/{run['expected']}, dup {run['duplicates']}"
        )
        result["cdf"][str(n)] = run.get("cdf", [])
        result["runs"].append(compact(run))
        ctx.wait_quiet()
    lasts = [
        r["call_to_last_delivery_ms"]
        for r in result["runs"]
        if r["call_to_last_delivery_ms"] is not None and r["lost"] == 0
    ]
    result["call_to_last_delivery_ms_median"] = (
        round(sorted(lasts)[len(lasts) // 2], 1) if lasts else None
    )
    result["lost"] = sum(r["lost"] for r in result["runs"])
    result["duplicates"] = sum(r["duplicates"] for r in result["runs"])
    return result


def workload_moonshot(ctx: Context) -> dict:
    """The issue's moonshot: moonshot_clients clients, a room socket (spread over
    the rooms) and a notifications socket each, across the two workers, connected
    within moonshot_seconds (connecting stops there), then one broadcast that must
    reach every notifications socket."""
    plan = ctx.plan
    clients = plan.moonshot_clients
    if clients > len(ctx.sessions):
        # Made now, not with the others: the broadcast workload's database
        # holds its 10,000 users only (a broadcast stores a row per user).
        ctx.log(f"moonshot: making users {len(ctx.sessions)} to {clients - 1}")
        ctx.sessions += seed(
            ctx.env, clients - len(ctx.sessions), plan.rooms, ctx.workdir, first=len(ctx.sessions)
        )
    rooms = [room_slug(i % plan.rooms) for i in range(clients)]
    targets = []
    for index, target in enumerate(ctx.targets("", range(clients), "moon")):
        targets.append(
            dict(target, url=target["url"] + f"/ws/chat/{rooms[index]}/", group="moon-room")
        )
        targets.append(dict(target, url=target["url"] + NOTIFICATIONS_PATH))
    ctx.log(
        f"moonshot: connecting {clients} clients ({len(targets)} sockets) "
        f"within {plan.moonshot_seconds:.0f} s"
    )
    gc_before = ctx.server.gc_full_passes()
    meter = Meter(ctx).start()
    connect = ctx.connect(targets, deadline=plan.moonshot_seconds)
    cpu = meter.stop()
    gc_passes = ctx.gc_full_passes_since(gc_before)
    ctx.log(f"moonshot: {connect['ready']}/{len(targets)} sockets in {connect['seconds']} s")
    settle = ctx.wait_quiet(timeout=120)
    result = {
        "clients": clients,
        "sockets": len(targets),
        "connect": connect,
        "connect_cpu": cpu,
        "connected_in_time": connect["ready"] == len(targets),
        "settle_seconds": settle,
        "worker_sockets": ctx.worker_sockets(),
        "worker_rss_kib": [rss_kib(pid) for pid in ctx.server.worker_pids()],
        "gc_full_passes": gc_passes,
    }
    result.update(broadcast_calls(ctx, "moon", 1))
    ctx.close_all()
    return result


def workload_profile(ctx: Context, name: str, cmd: dict) -> dict:
    """py-spy on our workers during the measurement `cmd` over sockets already
    connected: a pass of its own, so the measured runs are not slowed by the profiler.

    Worker 1 is drawn as a flamegraph (<stamp>-ours-flame-<name>.svg), worker 2's
    stacks are summarized (<stamp>-profile-<name>.txt)."""
    plan = ctx.plan
    ctx.log(f"profile: {name} under py-spy")
    pids = ctx.server.worker_pids()
    svg = RESULTS / f"{ctx.stamp}-ours-flame-{name}.svg"
    raw = ctx.workdir / f"profile-{name}.raw"
    seconds = int(plan.profile_seconds + 2)
    spy = str(Path(PYTHON).parent / "py-spy")
    common = ["-d", str(seconds), "-r", "200", "--function"]
    records = [
        subprocess.Popen(
            [spy, "record", "-p", str(pids[0]), *common, "-f", "flamegraph", "-o", str(svg)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        ),
        subprocess.Popen(
            [spy, "record", "-p", str(pids[-1]), *common, "-f", "raw", "-o", str(raw)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        ),
    ]
    time.sleep(1)
    run = ctx.measure(
        {
            **cmd,
            "count": round(cmd["rate"] * plan.profile_seconds),
            "mode": "paced",
            "drain": plan.drain,
        }
    )
    errors = []
    for record in records:
        try:
            _, stderr = record.communicate(timeout=seconds + 60)
        except subprocess.TimeoutExpired:
            stop_process(record)
            stderr = b"timed out"
        if record.returncode:
            errors.append(stderr.decode(errors="replace")[-800:])
    summary = profile.summarize(raw) if raw.exists() else None
    text = profile.render(summary) if summary else "no profile: " + " | ".join(errors)
    described = {k: f"{len(v)} groups" if isinstance(v, list) else v for k, v in cmd.items()}
    (RESULTS / f"{ctx.stamp}-profile-{name}.txt").write_text(f"{name}: {described}\n\n{text}")
    return {
        "cmd": cmd,
        "run": compact(run),
        "summary": summary,
        "flamegraph": svg.name if svg.exists() else None,
        "errors": errors,
    }


def run_kind(
    kind: str, plan: Plan, base_env: dict, sessions: list[str], workdir: Path, stamp: str
) -> dict:
    redis = bench_redis(workdir).start()
    env = {**base_env, "REDIS_URL": redis.url}
    server = SERVERS[kind](env, workdir)
    loadgen = None
    results: dict = {"kind": kind}
    try:
        server.start()
        loadgen = Loadgen(workdir)
        ctx = Context(kind, plan, server, redis, loadgen, sessions, env, workdir, stamp)
        ctx.log(f"workers {server.worker_pids()} on ports {server.ports}")
        ctx.results = results
        for name in (w for w in WORKLOADS if w in plan.workloads and w in KIND_WORKLOADS[kind]):
            started = time.monotonic()
            if not server.alive():
                ctx.log("the server is down (stopped from outside?): starting it again")
                results.setdefault("server_restarts", []).append(f"before {name}")
                server.stop()
                server.start()
            try:
                results[name] = globals()[f"workload_{name}"](ctx)
            except Exception as error:
                ctx.log(f"{name} failed: {error}")
                results[name] = {
                    "error": f"{type(error).__name__}: {error}",
                    "trace": traceback.format_exc()[-3000:],
                    "server_log": server.logs(),
                }
                with contextlib.suppress(Exception):
                    ctx.close_all()
            ctx.log(f"{name} took {time.monotonic() - started:.0f} s")
        results["worker_rss_kib_end"] = [rss_kib(pid) for pid in server.worker_pids()]
        results["server_log_problems"] = server_problems(server)
    finally:
        if loadgen is not None:
            loadgen.stop()
        server.stop()
        redis.stop()
    return results


def run_database(
    database: Database, plan: Plan, db_env: list[str], workdir: Path, stamp: str
) -> dict:
    """Seed `database`, run every kind's workloads on it, drop it; the kinds' results."""
    workdir.mkdir(exist_ok=True)
    base_env = app_env(database.url)
    for item in db_env:
        name, _, value = item.partition("=")
        base_env[name] = value
    kinds: dict = {}
    try:
        sessions = seed(
            base_env, plan.users_needed(), plan.rooms, workdir, room_members=plan.room_members
        )
        for kind in plan.kinds:
            if not set(plan.workloads) & set(KIND_WORKLOADS[kind]):
                continue
            kind_started = time.monotonic()
            kinds[kind] = run_kind(kind, plan, base_env, sessions, workdir, stamp)
            kinds[kind]["seconds"] = round(time.monotonic() - kind_started)
    finally:
        try:
            database.drop()
        except Exception as error:
            print(f"could not drop the bench database: {error}", file=sys.stderr)
    return kinds


def _interrupt(signum, frame):
    # SIGTERM ends the run like Ctrl-C: servers stopped, bench database dropped.
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller C, shorter runs")
    parser.add_argument(
        "--kinds",
        default="ours,ours-daphne,ours-runserver,stock,node",
        type=lambda s: [k for k in s.split(",") if k],
    )
    parser.add_argument("--workloads", default=None, type=lambda s: [w for w in s.split(",") if w])
    parser.add_argument(
        "--sizes",
        default=None,
        type=lambda s: [int(c) for c in s.split(",")],
        help="fanout C values (default 500,2000,5000; quick 500,2000)",
    )
    parser.add_argument(
        "--joins",
        default=None,
        type=lambda s: [int(c) for c in s.split(",")],
        help="join sizes: distinct users into one room (default 500,2000; quick 500)",
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite even when PostgreSQL answers")
    parser.add_argument(
        "--one-database",
        action="store_true",
        help="no second pass of the storing workloads on SQLite",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy pass")
    parser.add_argument(
        "--db-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra database setting for ours and stock, e.g. "
        "DATABASE_POOL_MAX=20 (default: the app's own defaults)",
    )
    args = parser.parse_args()
    for kind in args.kinds:
        if kind not in SERVERS:
            parser.error(f"unknown kind {kind}")
    for name in args.workloads or []:
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name}")
    plan = Plan.make(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S") + ("-quick" if plan.quick else "")
    started = time.monotonic()
    workdir = RESULTS / f"{stamp}-logs"
    workdir.mkdir()
    database = Database(workdir, allow_postgres=not args.sqlite)
    print(
        f"bench {stamp}: database {database.engine}, logs in {workdir.relative_to(ROOT)}",
        flush=True,
    )
    output = {
        "stamp": stamp,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "node": subprocess.run(
                ["node", "--version"], capture_output=True, text=True, check=False
            ).stdout.strip(),
            "kernel": platform.release(),
        },
        "database": database.engine,
        "db_env": args.db_env,
        "commit": git_commit(),
        "plan": {k: v for k, v in asdict(plan).items()},
        "kinds": {},
    }
    engine = database.engine  # (a dropped database no longer says)
    output["kinds"] = run_database(database, plan, args.db_env, workdir, stamp)
    # The embedded default too: the workloads that store, on SQLite, in the same run.
    storing = [w for w in plan.workloads if w in STORING_WORKLOADS]
    if engine != "sqlite" and storing and not args.one_database:
        second = Database(workdir / "sqlite", allow_postgres=False)
        print(f"bench {stamp}: database sqlite for {', '.join(storing)}", flush=True)
        second_plan = replace(plan, workloads=storing, profile=False)
        output["second"] = {
            "database": second.engine,
            "plan": {k: v for k, v in asdict(second_plan).items()},
            "kinds": run_database(second, second_plan, args.db_env, workdir / "sqlite", stamp),
        }
    output["seconds"] = round(time.monotonic() - started)
    cdfs = report.split_cdfs(output)
    (RESULTS / f"{stamp}.json").write_text(json.dumps({**output, "cdf": cdfs}, indent=1))
    table = report.table(output)
    (RESULTS / f"{stamp}.md").write_text(table)
    print(table)
    try:
        png = report.plot(cdfs, RESULTS / f"{stamp}-cdf.png")
        print(f"wrote {png.relative_to(ROOT)}")
    except Exception as error:
        print(f"no plot: {error}", file=sys.stderr)
    print(f"wrote bench/results/{stamp}.json and .md in {output['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
