"""The soak's health probe: GET /healthz once a second for the whole run, as a
load balancer would, in a thread of its own so that the soak's other steps (a
Redis restart takes seconds) never delay it.

Each probe is (wall clock ms, HTTP status or None for no answer, milliseconds).
"""

from __future__ import annotations

import threading
import time

from bench.procs import http_status

# /healthz waits up to 3 s for each of its checks: give it all of them.
PROBE_TIMEOUT = 10.0


class HealthProbe:
    def __init__(self, url: str, *, every: float = 1.0) -> None:
        self.url = url
        self.every = every
        self.probes: list[tuple[float, int | None, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="healthz-probe", daemon=True)

    def start(self) -> HealthProbe:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(PROBE_TIMEOUT + 1)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            started = time.monotonic()
            status = http_status(self.url, timeout=PROBE_TIMEOUT)
            took = (time.monotonic() - started) * 1000
            self.probes.append((time.time() * 1000, status, round(took, 1)))
            next_at = max(next_at + self.every, time.monotonic())
            self._stop.wait(next_at - time.monotonic())

    def failing_since(self, since_ms: float) -> int:
        return sum(1 for t, status, _ in self.probes if t >= since_ms and status != 200)

    def summary(self) -> dict:
        """Counts by status, latency percentiles, and every stretch of failed probes
        (start in wall-clock ms, length in seconds, statuses seen)."""
        probes = list(self.probes)
        statuses: dict[str, int] = {}
        for _, status, _ in probes:
            statuses[_label(status)] = statuses.get(_label(status), 0) + 1
        windows: list[dict] = []
        current: dict | None = None
        for t, status, took in probes:
            if status == 200:
                current = None
                continue
            if current is None:
                current = {"start_ms": t, "end_ms": t + took, "probes": 0, "statuses": []}
                windows.append(current)
            current["end_ms"] = t + took
            current["probes"] += 1
            if _label(status) not in current["statuses"]:
                current["statuses"].append(_label(status))
        for window in windows:
            window["seconds"] = round((window.pop("end_ms") - window["start_ms"]) / 1000, 1)
        latencies = sorted(took for _, _, took in probes)
        n = len(latencies)
        return {
            "probes": n,
            "ok": statuses.get("200", 0),
            "statuses": statuses,
            "failing_windows": windows,
            "longest_failing_seconds": max((w["seconds"] for w in windows), default=0.0),
            "latency_ms": {
                "p50": latencies[n // 2],
                "p99": latencies[min(n - 1, int(n * 0.99))],
                "max": latencies[-1],
            }
            if n
            else None,
        }


def _label(status: int | None) -> str:
    return str(status) if status is not None else "no answer"
