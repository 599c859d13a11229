"""The results table (Markdown), the target checks, and the latency-CDF plot."""

from __future__ import annotations

from pathlib import Path

KINDS = ["ours", "ours-daphne", "ours-runserver", "stock", "node"]
# The app under each launch: `manage.py serve`, plain `daphne config.asgi:application`,
# `manage.py runserver`.
OURS = ["ours", "ours-daphne", "ours-runserver"]
NONE = "-"
PERSISTENCE = {
    "ours": "every message stored, seq per room",
    "ours-daphne": "every message stored, seq per room",
    "ours-runserver": "every message stored, seq per room",
    "stock": "none (tutorial)",
    "node": "none",
}


def split_cdfs(output: dict) -> dict:
    """Move every CDF out of the results: {plot title: {kind: [[ms, q], ...]}}."""
    cdfs: dict[str, dict[str, list]] = {}
    second = output.get("second")
    if second:
        for kind, res in second["kinds"].items():
            rooms = res.get("rooms") or {}
            for rate, points in (rooms.pop("cdf", None) or {}).items():
                title = (
                    f"rooms {rooms.get('rooms')}x{rooms.get('members')}, {rate} sends/s, "
                    f"{second['database']}"
                )
                cdfs.setdefault(title, {})[kind] = points
    for kind, res in output["kinds"].items():
        for size, fan in (res.get("fanout") or {}).items():
            if not isinstance(fan, dict):
                continue
            for mode, points in (fan.pop("cdf", None) or {}).items():
                cdfs.setdefault(f"fanout C={size}, {mode}", {})[kind] = points
        rooms = res.get("rooms") or {}
        for rate, points in (rooms.pop("cdf", None) or {}).items():
            title = (
                f"rooms {rooms.get('rooms')}x{rooms.get('members')}, {rate} sends/s, "
                f"{output.get('database')}"
            )
            cdfs.setdefault(title, {})[kind] = points
        # The first broadcast call of each workload that makes them.
        for name, title in (
            ("broadcast", "broadcast to {} clients (first call)"),
            ("moonshot", "moonshot: broadcast to {} clients"),
        ):
            workload = res.get(name) or {}
            runs = workload.pop("cdf", None) or {}
            if runs:
                cdfs.setdefault(title.format(workload.get("clients")), {})[kind] = runs.get("0", [])
    return cdfs


def _get(data, *path):
    for key in path:
        if data is None:
            return None
        if isinstance(data, list):
            data = data[key] if -len(data) <= key < len(data) else None
        else:
            data = data.get(key)
    return data


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return NONE
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.{digits}f}"
    return f"{int(value):,}"


def _cores(run) -> float | None:
    """Load generator CPU seconds per second of the delivery span (1.0 = a full core)."""
    if not run or not run.get("span_seconds"):
        return None
    return round(run["cpu"]["loadgen"] / run["span_seconds"], 2)


def _fmt_rate(value) -> str:
    return NONE if value is None else f"{value:.2f}"


def _ratio(a, b, digits: int = 2) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
        return NONE
    return f"{a / b:.{digits}f}x"


def _loss(run) -> str:
    if not run or "expected" not in run:
        return NONE
    text = f"{run['lost']:,}/{run['expected']:,}"
    if run.get("duplicates"):
        text += f", dup {run['duplicates']:,}"
    closed = run.get("closed_during") or {}
    if closed:
        text += ", closed " + " ".join(f"{c}x{n}" for c, n in closed.items())
    return text


def _per_send_ms(run, part: str = "all") -> float | None:
    """Server CPU ms per message sent (for ours: per stored message): of all the
    workers' threads, of their main (event-loop) threads, or of the others."""
    if not run or not run.get("sent") or not run.get("cpu"):
        return None
    cpu = run["cpu"]
    if part == "all":
        seconds = cpu["server"]
    elif "server_main" not in cpu:
        return None  # a result from before the split was measured
    elif part == "main":
        seconds = cpu["server_main"]
    else:
        seconds = cpu["server"] - cpu["server_main"]
    return round(seconds * 1000 / run["sent"], 2)


def table(output: dict) -> str:
    rows = _rows(output["kinds"], output["plan"], output.get("database"))
    present = [k for k in KINDS if k in output["kinds"]]
    header = ["", *present, "ours/stock", "ours/node"]
    lines = [
        f"Benchmark {output['stamp']} ({output['date']}), app at {output.get('commit')}, "
        f"{output['machine']['cpus']} cores, database {output['database']}, "
        f"{' '.join(output.get('db_env') or []) or 'default database settings'}, "
        f"{output.get('seconds', '?')} s",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    second = output.get("second")
    if second:
        present = [k for k in KINDS if k in second["kinds"]]
        header = [f"database {second['database']}", *present, "ours/stock", "ours/node"]
        lines += ["", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        rows = _rows(second["kinds"], second["plan"], second["database"])
        lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", "Targets (ratios from this run):", ""]
    lines += [f"- {line}" for line in targets(output)]
    failures = failures_of(output)
    if second:
        failures += [f"{second['database']}: {line}" for line in failures_of(second)]
    if failures:
        lines += ["", "Failures:", ""] + [f"- {line}" for line in failures]
    return "\n".join(lines) + "\n"


def _rows(kinds: dict, plan: dict, database: str | None) -> list[list[str]]:
    present = [k for k in KINDS if k in kinds]
    ran = set(plan["workloads"])
    rows: list[list[str]] = []

    def section(title: str) -> None:
        rows.append([f"**{title}**"] + [""] * (len(present) + 2))

    def row(label: str, getter, fmt=_fmt, ratio: bool = True) -> None:
        values = {k: getter(kinds[k]) for k in present}
        cells = [label] + [fmt(values[k]) for k in present]
        if ratio:
            cells += [
                _ratio(values.get("ours"), values.get("stock")),
                _ratio(values.get("ours"), values.get("node")),
            ]
        else:
            cells += ["", ""]
        rows.append(cells)

    row("persistence", lambda r: PERSISTENCE[r["kind"]], fmt=str, ratio=False)
    for size in plan["fanout_sizes"] if "fanout" in ran else []:
        c = str(size)

        def fan(*path, c=c):
            return lambda r: _get(r, "fanout", c, *path)

        section(
            f"fanout C={size:,} ({plan['fanout_users']} users, one sender; the last burst from 10)"
        )
        row("connected sockets", fan("connected"))
        row("single message: last delivery, ms (median)", fan("single", "last_delivery_ms_median"))
        row("single: lost/expected", fan("single"), fmt=_loss, ratio=False)
        row("paced: messages/s offered", fan("paced", "rate"), fmt=_fmt_rate, ratio=False)
        row("paced: deliveries/s", fan("paced", "deliveries_per_second"))
        for q in ("p50", "p95", "p99", "max"):
            row(f"paced: latency {q}, ms", fan("paced", "latency_ms", q))
        row("paced: lost/expected", fan("paced"), fmt=_loss, ratio=False)
        row("paced: server CPU ms per 1,000 deliveries", fan("paced", "server_cpu_ms_per_1000"))
        row("paced: deliveries per server CPU-second", fan("paced", "deliveries_per_cpu_second"))
        row("paced: Redis CPU ms per 1,000 deliveries", fan("paced", "redis_cpu_ms_per_1000"))
        row("paced: load generator CPU %", fan("paced", "loadgen_cpu_percent"), ratio=False)
        row("paced: other processes' CPU %", fan("paced", "other_cpu_percent"), ratio=False)
        row("burst: messages", fan("burst", "sent"), ratio=False)
        row("burst: deliveries/s", fan("burst", "deliveries_per_second"))
        row("burst: latency p50, ms", fan("burst", "latency_ms", "p50"))
        row("burst: latency p99, ms", fan("burst", "latency_ms", "p99"))
        row("burst: lost/expected", fan("burst"), fmt=_loss, ratio=False)
        row("burst: server CPU ms per 1,000 deliveries", fan("burst", "server_cpu_ms_per_1000"))
        row("burst: deliveries per server CPU-second", fan("burst", "deliveries_per_cpu_second"))
        row("burst: Redis CPU ms per 1,000 deliveries", fan("burst", "redis_cpu_ms_per_1000"))
        row("burst: load generator CPU %", fan("burst", "loadgen_cpu_percent"), ratio=False)
        row(
            "burst: load generator cores while delivering",
            lambda r, c=c: _cores(_get(r, "fanout", c, "burst")),
            ratio=False,
        )
        row("burst: other processes' CPU %", fan("burst", "other_cpu_percent"), ratio=False)
        crowd = "burst_senders"
        row("burst from 10 senders: deliveries/s", fan(crowd, "deliveries_per_second"))
        row("burst from 10 senders: latency p99, ms", fan(crowd, "latency_ms", "p99"))
        row("burst from 10 senders: lost/expected", fan(crowd), fmt=_loss, ratio=False)
        row(
            "burst from 10 senders: deliveries per server CPU-second",
            fan(crowd, "deliveries_per_cpu_second"),
        )
    if "broadcast" in ran:
        section(f"broadcast to {plan['broadcast_clients']:,} clients (notifications socket)")

        def bc(*path):
            return lambda r: _get(r, "broadcast", *path)

        row("connected notification sockets", bc("connect", "ready"))
        row("call to last delivery, ms (median)", bc("call_to_last_delivery_ms_median"))
        row("latency p50, ms (first call)", bc("runs", 0, "latency_ms", "p50"))
        row("the call itself, ms (first call)", bc("runs", 0, "call", "call_ms"))
        row("lost/expected (all calls)", _broadcast_loss, fmt=str, ratio=False)
        row("server CPU s per broadcast (first call)", bc("runs", 0, "cpu", "server"))
        row("load generator CPU s (first call)", bc("runs", 0, "cpu", "loadgen"), ratio=False)
    for rate in plan["room_rates"] if "rooms" in ran else []:
        rk = str(rate)

        def rm(*path, rk=rk):
            return lambda r: _get(r, "rooms", "runs", rk, *path)

        section(f"rooms {plan['rooms']}x{plan['room_members']}, {rate:,} sends/s, {database}")
        for q in ("p50", "p95", "p99", "max"):
            row(f"latency {q}, ms", rm("latency_ms", q))
        row("deliveries/s", rm("deliveries_per_second"))
        row("lost/expected", rm(), fmt=_loss, ratio=False)
        row("error frames", rm("errors"), ratio=False)
        row("server CPU ms per 1,000 deliveries", rm("server_cpu_ms_per_1000"))
        row("server CPU % (100 = one core)", rm("server_cpu_percent"))
        row(
            "server CPU ms per message sent",
            lambda r, rk=rk: _per_send_ms(_get(r, "rooms", "runs", rk)),
        )
        row(
            "the same: the workers' main threads (event loops)",
            lambda r, rk=rk: _per_send_ms(_get(r, "rooms", "runs", rk), "main"),
        )
        row(
            "the same: their other threads (ours: the writer, database calls)",
            lambda r, rk=rk: _per_send_ms(_get(r, "rooms", "runs", rk), "others"),
        )
        row("Redis CPU %", rm("redis_cpu_percent"))
        row("PostgreSQL CPU s (all its processes)", rm("cpu", "postgres"), ratio=False)
        row("load generator CPU %", rm("loadgen_cpu_percent"), ratio=False)
        row("other processes' CPU %", rm("other_cpu_percent"), ratio=False)
    if "idle" in ran:
        section(f"idle: {plan['idle_clients']:,} clients (room + notifications socket each)")

        def idle(*path):
            return lambda r: _get(r, "idle", *path)

        row("sockets connected", idle("sockets"))
        row("memory per idle socket, KiB", idle("kib_per_socket"))
        row(
            "the same from fresh workers (their start included), KiB",
            idle("kib_per_socket_from_fresh"),
        )
        row("memory per idle client, KiB", idle("kib_per_client"))
        row("handshakes/s (100 in flight)", idle("handshakes_per_second"))
        row("handshake p50, ms", idle("connect", "handshake_ms", "p50"))
        row("handshake p99, ms", idle("connect", "handshake_ms", "p99"))
        row("server CPU ms per handshake", idle("server_cpu_ms_per_handshake"))
        row("server CPU % with every socket idle", idle("idle_cpu_percent"))
        hold = _fmt(plan.get("idle_hold_seconds"))
        row(
            f"server CPU % over the next {hold} s (pings, periodic checks)",
            idle("held_cpu_percent"),
        )
        row(f"memory per idle socket after those {hold} s, KiB", idle("held_kib_per_socket"))
    for size in _join_sizes(plan) if "join" in ran else []:
        section(f"join: {size:,} distinct users into one room at once")

        def join(*path, size=size):
            return lambda r: _join(r, size, *path)

        row("connected", join("connect", "ready"))
        row(
            "connect failures",
            join("connect", "failures"),
            fmt=lambda v: NONE if not v else ", ".join(f"{k} x{n}" for k, n in v.items()),
            ratio=False,
        )
        row("handshakes/s", join("connect", "per_second"))
        row("handshake p99, ms", join("connect", "handshake_ms", "p99"))
        row("server CPU ms per handshake (while connecting)", join("server_cpu_ms_per_handshake"))
        row("server CPU ms per socket (until quiet)", join("server_cpu_ms_per_socket"))
        row("frames received besides hello, until quiet", join("frames_received"))
        row(
            "full garbage-collector passes while connecting: count, seconds in all",
            join("gc_full_passes"),
            fmt=_gc_passes,
            ratio=False,
        )
    if "moonshot" in ran:
        section(
            f"moonshot: {plan['moonshot_clients']:,} clients (room + notifications socket "
            f"each), connecting for at most {plan['moonshot_seconds']:g} s, one broadcast"
        )

        def moon(*path):
            return lambda r: _get(r, "moonshot", *path)

        row("sockets connected", moon("connect", "ready"))
        row("seconds connecting", moon("connect", "seconds"))
        row("handshakes/s", moon("connect", "per_second"))
        row(
            "worker RSS, MiB (each)",
            lambda r: _mib(_get(r, "moonshot", "worker_rss_kib")),
            fmt=str,
            ratio=False,
        )
        row(
            "full garbage-collector passes while connecting: count, seconds in all",
            moon("gc_full_passes"),
            fmt=_gc_passes,
            ratio=False,
        )
        row("broadcast: the call, ms", moon("runs", 0, "call", "call_ms"))
        row("broadcast: call to last delivery, ms", moon("runs", 0, "call_to_last_delivery_ms"))
        row("broadcast: lost/expected", moon("runs", 0), fmt=_loss, ratio=False)

    return rows


def _gc_passes(passes: dict | None) -> str:
    """gc_full_passes as a cell: how many, their seconds, and how many were long."""
    if not passes:
        return NONE
    text = f"{passes['count']:.0f}, {passes['seconds']:.2f} s"
    if passes["long"]:
        text += f" ({passes['long']:.0f} of {passes['long_from_seconds']:g} s or more)"
    return text


def _mib(kib: list[int] | None) -> str:
    return NONE if not kib else ", ".join(f"{k / 1024:,.0f}" for k in kib)


def _join_sizes(plan: dict) -> list[int]:
    return plan.get("join_sizes") or [plan.get("join_clients", 500)]


def _join(result: dict, size: int, *path):
    """A join result by size (older results hold one join, not keyed by size)."""
    join = result.get("join") or {}
    if "connect" in join:
        return _get(join, *path) if join.get("clients") == size else None
    return _get(join, str(size), *path)


def _broadcast_loss(result) -> str:
    broadcast = result.get("broadcast") or {}
    runs = broadcast.get("runs") or []
    if not runs:
        return NONE
    lost = sum(r["lost"] for r in runs)
    expected = sum(r["expected"] for r in runs)
    dup = sum(r["duplicates"] for r in runs)
    return f"{lost:,}/{expected:,}" + (f", dup {dup:,}" if dup else "")


def _check(label: str, ok: bool | None, detail: str) -> str:
    mark = "n/a" if ok is None else ("PASS" if ok else "FAIL")
    return f"{mark}: {label} ({detail})"


def targets(output: dict) -> list[str]:
    kinds = output["kinds"]
    ours, stock, node = (kinds.get(k) or {} for k in ("ours", "stock", "node"))
    lines = []
    sizes = output["plan"]["fanout_sizes"]
    # The targets name C=2,000; a run without it (--quick) checks the nearest C.
    near = min(sizes, key=lambda c: abs(c - 2000)) if sizes else None
    size = str(near) if near else None
    for mode in ("burst", "paced"):
        o = _get(ours, "fanout", size, mode, "deliveries_per_cpu_second") if size else None
        s = _get(stock, "fanout", size, mode, "deliveries_per_cpu_second") if size else None
        n = _get(node, "fanout", size, mode, "deliveries_per_cpu_second") if size else None
        ok = None if None in (o, s) else o >= 10 * s
        lines.append(
            _check(
                f"fanout C={size} {mode}: deliveries per server CPU-s >= 10x stock",
                ok,
                f"ours {_fmt(o)}, stock {_fmt(s)}: {_ratio(o, s)}",
            )
        )
        ok = None if None in (o, n) else o >= 0.5 * n
        lines.append(
            _check(
                f"fanout C={size} {mode}: deliveries per server CPU-s >= 0.5x node",
                ok,
                f"ours {_fmt(o)}, node {_fmt(n)}: {_ratio(o, n)}",
            )
        )
    o = _get(ours, "fanout", size, "single", "last_delivery_ms_median") if size else None
    n = _get(node, "fanout", size, "single", "last_delivery_ms_median") if size else None
    ok = None if None in (o, n) else o <= 2 * n
    lines.append(
        _check(
            f"single message to C={size} sockets: last delivery <= 2x node",
            ok,
            f"ours {_fmt(o)} ms, node {_fmt(n)} ms: {_ratio(o, n)}",
        )
    )
    broadcast = ours.get("broadcast") or {}
    runs = broadcast.get("runs") or []
    clients = broadcast.get("clients")
    ok = None
    if runs and clients and clients >= 10_000:
        ok = all(r["lost"] == 0 and r["duplicates"] == 0 for r in runs) and (
            _get(broadcast, "connect", "ready") == clients
        )
    lines.append(
        _check(
            "10,000 connected clients across 2 workers: every delivery arrives",
            ok,
            f"broadcast to {_fmt(clients)} clients: lost/expected "
            f"{_broadcast_loss(ours)}, "
            f"connected {_fmt(_get(broadcast, 'connect', 'ready'))}",
        )
    )
    o, n = _get(ours, "idle", "kib_per_socket"), _get(node, "idle", "kib_per_socket")
    ok = None if None in (o, n) else o <= 2 * n
    lines.append(
        _check(
            "memory per idle socket <= 2x node",
            ok,
            f"ours {_fmt(o)} KiB, node {_fmt(n)} KiB: {_ratio(o, n)}",
        )
    )
    o, n = _get(ours, "idle", "handshakes_per_second"), _get(node, "idle", "handshakes_per_second")
    ok = None if None in (o, n) else o >= 0.5 * n
    lines.append(
        _check("handshakes/s >= 0.5x node", ok, f"ours {_fmt(o)}, node {_fmt(n)}: {_ratio(o, n)}")
    )
    lines += rooms_targets(kinds, output.get("database"))
    second = output.get("second")
    if second:
        lines += rooms_targets(second["kinds"], second["database"])
    return lines + socket_targets(output)


def socket_targets(output: dict) -> list[str]:
    """The fast socket path's targets: fanout under every launch, mass joins,
    broadcast to 10,000, idle sockets."""
    kinds = output["kinds"]
    node = kinds.get("node") or {}
    lines = []
    sizes = output["plan"]["fanout_sizes"]
    size = str(min(sizes, key=lambda c: abs(c - 2000))) if sizes else None
    n = _get(node, "fanout", size, "burst", "deliveries_per_cpu_second") if size else None
    for kind in (k for k in OURS if k in kinds):
        o = _get(kinds[kind], "fanout", size, "burst", "deliveries_per_cpu_second")
        ok = None if None in (o, n) else o >= 0.7 * n
        lines.append(
            _check(
                f"{kind}: fanout C={size} burst deliveries per server CPU-s >= 0.7x node",
                ok,
                f"{_fmt(o)} vs node {_fmt(n)}: {_ratio(o, n)}",
            )
        )
    for kind in (k for k in OURS if k in kinds):
        for size in _join_sizes(output["plan"]):
            rate = _join(kinds[kind], size, "connect", "per_second")
            cpu = _join(kinds[kind], size, "server_cpu_ms_per_handshake")
            ready = _join(kinds[kind], size, "connect", "ready")
            ok = None if None in (rate, cpu) else rate >= 600 and cpu <= 2 and ready == size
            lines.append(
                _check(
                    f"{kind}: {size:,} distinct users join one room: >= 600 "
                    "handshakes/s, <= 2 ms CPU each",
                    ok,
                    f"{_fmt(rate)}/s, {_fmt(cpu, 2)} ms, {_fmt(ready)} connected",
                )
            )
    for kind in (k for k in OURS if k in kinds):
        broadcast = kinds[kind].get("broadcast") or {}
        runs = broadcast.get("runs") or []
        calls = [_get(r, "call", "call_ms") for r in runs]
        lasts = [r.get("call_to_last_delivery_ms") for r in runs]
        ok = None
        if runs and None not in calls and None not in lasts:
            ok = max(calls) <= 300 and max(lasts) <= 1000 and all(r["lost"] == 0 for r in runs)
        clients = broadcast.get("clients")
        lines.append(
            _check(
                f"{kind}: broadcast() to {_fmt(clients)} connected users returns "
                "in <= 300 ms, the last socket has it <= 1 s after the call",
                ok,
                f"calls {calls} ms, last deliveries {lasts} ms, lost/expected "
                f"{_broadcast_loss(kinds[kind])}",
            )
        )
    for kind in (k for k in OURS if k in kinds):
        moonshot = kinds[kind].get("moonshot")
        if not moonshot or "error" in moonshot:
            continue
        run = _get(moonshot, "runs", 0) or {}
        ok: bool | None = (
            bool(moonshot.get("connected_in_time")) and run.get("lost") == 0 and bool(run)
        )
        if (moonshot.get("clients") or 0) < MOONSHOT_CLIENTS:
            ok = None  # a smaller crowd (--quick) shows the path, not the target
        lines.append(
            _check(
                f"{kind}: moonshot: {_fmt(moonshot.get('clients'))} clients (two sockets each) "
                f"connected within {_fmt(output['plan'].get('moonshot_seconds'))} s, one "
                "broadcast reaching every one",
                ok,
                f"{_fmt(_get(moonshot, 'connect', 'ready'))}/{_fmt(moonshot.get('sockets'))} "
                f"sockets in {_fmt(_get(moonshot, 'connect', 'seconds'))} s, broadcast "
                f"{_loss(run) if run else NONE} lost",
            )
        )
    for kind in (k for k in OURS if k in kinds):
        # The worse of the two readings: just after connecting, and held.
        cpu = _worse(
            _get(kinds[kind], "idle", "idle_cpu_percent"),
            _get(kinds[kind], "idle", "held_cpu_percent"),
        )
        kib = _worse(
            _get(kinds[kind], "idle", "kib_per_socket"),
            _get(kinds[kind], "idle", "held_kib_per_socket"),
        )
        sockets = _get(kinds[kind], "idle", "sockets")
        ok = None if None in (cpu, kib) else cpu <= 2 and kib <= 28
        lines.append(
            _check(
                f"{kind}: idle sockets cost <= 2% of a core and <= 28 KiB each",
                ok,
                f"{_fmt(sockets)} sockets: {_fmt(cpu)}% of a core, {_fmt(kib)} KiB",
            )
        )
    return lines


def _worse(first, second):
    """The larger of two readings, either of which may be missing (None)."""
    present = [value for value in (first, second) if value is not None]
    return max(present) if present else None


# The moonshot's crowd: clients, each with a room and a notifications socket.
MOONSHOT_CLIENTS = 20_000

# Many rooms, two workers: p99 at 1,000 sends/s per database, and at 200 sends/s.
ROOMS_P99_MS = {("1000", "postgresql"): 100, ("1000", "sqlite"): 250, ("200", None): 30}
ROOMS_CPU_MS_PER_MESSAGE = 1.0


def rooms_targets(kinds: dict, database: str | None) -> list[str]:
    """Target 1 for each launch mode of ours: nothing lost, p99 under the bound,
    at most 1 ms of server CPU per stored message."""
    lines = []
    for kind in OURS:
        runs = _get(kinds, kind, "rooms", "runs")
        if not runs:
            continue
        for rate, run in sorted(runs.items(), key=lambda item: int(item[0])):
            bound = ROOMS_P99_MS.get((rate, database)) or ROOMS_P99_MS.get((rate, None))
            if bound is None:
                continue
            p99, lost = _get(run, "latency_ms", "p99"), run.get("lost")
            ok = None if p99 is None else (p99 <= bound and lost == 0)
            lines.append(
                _check(
                    f"{kind} rooms at {int(rate):,} sends/s, {database}: p99 <= {bound} ms, "
                    "nothing lost",
                    ok,
                    f"p99 {_fmt(p99)} ms, lost {_fmt(lost)}",
                )
            )
            per = _per_send_ms(run)
            ok = None if per is None else per <= ROOMS_CPU_MS_PER_MESSAGE
            lines.append(
                _check(
                    f"{kind} rooms at {int(rate):,} sends/s, {database}: server CPU per stored "
                    f"message <= {ROOMS_CPU_MS_PER_MESSAGE:g} ms",
                    ok,
                    f"{_fmt(per, 2)} ms",
                )
            )
    return lines


def failures_of(output: dict) -> list[str]:
    """Lost or duplicated deliveries, errors, closes and failed workloads, per kind."""
    lines = []
    for kind, res in output["kinds"].items():
        runs = []
        for size, fan in (res.get("fanout") or {}).items():
            if not isinstance(fan, dict):
                lines.append(f"{kind} fanout: {fan}")
                continue
            if "error" in fan:
                lines.append(f"{kind} fanout C={size}: {fan['error']}")
            failed = _get(fan, "connect", "failures")
            if failed:
                lines.append(f"{kind} fanout C={size}: connect failures {failed}")
            modes = ("single", "paced", "burst", "burst_senders")
            runs += [(f"fanout C={size} {m}", fan.get(m)) for m in modes]
        for rate, run in (_get(res, "rooms", "runs") or {}).items():
            runs.append((f"rooms {rate}/s", run))
        for n, run in enumerate(_get(res, "broadcast", "runs") or []):
            runs.append((f"broadcast {n + 1}", run))
        for run in _get(res, "moonshot", "runs") or []:
            runs.append(("moonshot broadcast", run))
        for name in ("idle", "rooms", "broadcast", "join", "moonshot"):
            if isinstance(res.get(name), dict) and "error" in res[name]:
                lines.append(f"{kind} {name}: {res[name]['error']}")
        for name, prof in (res.get("profile") or {}).items():
            if "error" in prof or prof.get("errors"):
                lines.append(f"{kind} profile {name}: {prof.get('error') or prof.get('errors')}")
        for name in ("idle", "rooms", "broadcast", "moonshot"):
            failed = _get(res, name, "connect", "failures")
            if failed:
                lines.append(f"{kind} {name}: connect failures {failed}")
        for size in _join_sizes(output["plan"]):
            failed = _join(res, size, "connect", "failures")
            if failed:
                lines.append(f"{kind} join {size}: connect failures {failed}")
        for name, run in runs:
            if not run:
                continue
            problems = []
            if run.get("lost"):
                problems.append(
                    f"lost {run['lost']:,} of {run['expected']:,} (not delivered "
                    "within the drain window)"
                )
            if run.get("duplicates"):
                problems.append(f"{run['duplicates']:,} duplicated")
            if run.get("errors"):
                problems.append(f"{run['errors']} error frames {run.get('error_samples')}")
            if run.get("closed_during"):
                problems.append(f"sockets closed {run['closed_during']}")
            seq = run.get("seq") or {}
            # A gap is a failure only when no other run's sends reached the room meanwhile.
            gaps = seq.get("gaps") if not run.get("stale") else 0
            if seq.get("duplicate_seq") or seq.get("mismatched") or gaps:
                problems.append(f"seq problems {seq}")
            if problems:
                lines.append(f"{kind} {name}: " + "; ".join(problems))
        for when in res.get("server_restarts") or []:
            lines.append(f"{kind}: the server was found stopped and was restarted {when}")
        for line in res.get("server_log_problems") or []:
            lines.append(f"{kind} server log: {line}")
    return lines


def plot(cdfs: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    titles = [t for t in cdfs if any(cdfs[t].values())]
    columns = 3
    rows = max(1, -(-len(titles) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(5 * columns, 3.6 * rows), squeeze=False)
    colors = {
        "ours": "tab:blue",
        "ours-daphne": "tab:cyan",
        "ours-runserver": "tab:purple",
        "stock": "tab:red",
        "node": "tab:green",
    }
    for ax, title in zip(axes.flat, titles, strict=False):
        for kind, points in cdfs[title].items():
            if points:
                xs = [max(p[0], 0.01) for p in points]
                ax.plot(xs, [p[1] for p in points], label=kind, color=colors.get(kind))
        ax.set_xscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("delivery latency, ms")
        ax.set_ylabel("fraction of delivered")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    for ax in list(axes.flat)[len(titles) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main() -> None:
    """Render a results file again: python -m bench.report bench/results/<stamp>.json"""
    import json
    import sys

    path = Path(sys.argv[1])
    output = json.loads(path.read_text())
    cdfs = output.pop("cdf", {})
    text = table(output)
    path.with_suffix(".md").write_text(text)
    print(text)
    plot(cdfs, path.with_name(path.stem + "-cdf.png"))


if __name__ == "__main__":
    main()
