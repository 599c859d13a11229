"""The soak's faults: a worker SIGKILLed every few minutes (serve's supervisor
starts a new one) and Redis stopped and started again on the same port.

The schedule is fixed in advance so that runs compare: kills at `first_kill`,
then every `kill_every` seconds, alternating between the two workers (never the
one that replaced the worker killed last); Redis restarts at `first_redis`, then
every `redis_every` seconds. The first ones are offset (1 min and 2.5 min by
default) so that a short run sees both kinds and the two kinds do not coincide;
nothing is scheduled in the last `end_margin` seconds of the load, so every fault
is followed by load.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field

from bench.procs import OursServer
from harness.redis_server import RedisServer


@dataclass
class Fault:
    kind: str  # "kill" (one worker, SIGKILL) or "redis" (stop, wait, start)
    at: float  # seconds after the load started
    started_ms: float = 0.0  # wall clock (ms since the epoch), as the clients log it
    details: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.kind}@{self.at / 60:g}min"


class Faults:
    def __init__(
        self,
        server: OursServer,
        redis: RedisServer,
        *,
        seconds: float,
        kill_every: float,
        first_kill: float,
        redis_every: float,
        first_redis: float,
        redis_down: float,
        end_margin: float = 30.0,
    ) -> None:
        self.server = server
        self.redis = redis
        self.redis_down = redis_down
        planned = []
        for kind, first, every in (
            ("kill", first_kill, kill_every),
            ("redis", first_redis, redis_every),
        ):
            at = first
            while every > 0 and at < seconds - end_margin:
                planned.append(Fault(kind, at))
                at += every
        self.planned = sorted(planned, key=lambda f: f.at)
        self.done: list[Fault] = []
        self._recovering: list[Fault] = []

    def run_due(self, elapsed: float) -> list[Fault]:
        """Run the faults whose time has come; return them."""
        ran = []
        while self.planned and self.planned[0].at <= elapsed:
            fault = self.planned.pop(0)
            fault.started_ms = time.time() * 1000
            if fault.kind == "kill":
                self._kill(fault)
            else:
                self._restart_redis(fault)
            self.done.append(fault)
            ran.append(fault)
        return ran

    def _kill(self, fault: Fault) -> None:
        pids = self.server.worker_pids()
        # Alternate: never the worker that replaced the last one killed.
        last = next((f for f in reversed(self.done) if f.kind == "kill"), None)
        spared = last.details.get("new_pid") if last else None
        victim = next((pid for pid in pids if pid != spared), pids[0])
        os.kill(victim, signal.SIGKILL)
        fault.details = {"pid": victim, "workers_before": pids, "t0": time.monotonic()}
        self._recovering.append(fault)

    def _restart_redis(self, fault: Fault) -> None:
        started = time.monotonic()
        self.redis.stop()
        stopped = time.monotonic()
        time.sleep(self.redis_down)
        self.redis.start()  # same port; returns once it answers PING
        fault.details = {
            "stop_seconds": round(stopped - started, 2),
            "down_seconds": round(time.monotonic() - stopped, 2),
        }

    def check_recovery(self) -> None:
        """Note when serve has replaced each killed worker (a new pid running)."""
        pids = self.server.worker_pids()
        for fault in list(self._recovering):
            before = fault.details["workers_before"]
            new = [pid for pid in pids if pid not in before]
            if fault.details["pid"] not in pids and new:
                elapsed = time.monotonic() - fault.details["t0"]
                fault.details["new_worker_after_seconds"] = round(elapsed, 2)
                fault.details["new_pid"] = new[0]
                self._recovering.remove(fault)

    def records(self) -> list[dict]:
        return [
            {
                "kind": f.kind,
                "at_seconds": f.at,
                "started_ms": f.started_ms,
                **{k: v for k, v in f.details.items() if k != "t0"},
            }
            for f in self.done
        ]
