"""The soak's verdict and its human summary, from what the run collected.

`verdict(...)` adds the checks that decide the exit code: nothing lost, nothing
duplicated, the Redis pub/sub channels and their subscriptions back within
LEAK_TOLERANCE of their level before any client connected, and the workers'
resident memory back within LEAK_TOLERANCE of its level after the warm-up round
(CPython does not give freed memory back to the system, so a fresh worker's RSS
is no baseline for one that has held the same sockets before). `render(...)` is
the Markdown summary (printed and written next to the JSON).
"""

from __future__ import annotations

LEAK_TOLERANCE = 0.10
# A lost message is put down to the last fault that started before it was sent
# (or up to this long after: a send in flight when the fault hit).
ATTRIBUTE_BEFORE_MS = 5_000
ATTRIBUTE_WINDOW_MS = 60_000


def attribute(faults: list[dict], sent_at: float) -> str:
    """The fault a message sent at `sent_at` (ms) may have been lost to, or 'none'."""
    before = [f for f in faults if f["started_ms"] <= sent_at + ATTRIBUTE_BEFORE_MS]
    if not before:
        return "none"
    fault = max(before, key=lambda f: f["started_ms"])
    if sent_at - fault["started_ms"] > ATTRIBUTE_WINDOW_MS:
        return "none"
    return f"{fault['kind']}@{fault['at_seconds'] / 60:g}min"


def fault_effects(faults: list[dict], close_log: list, timeline: list[dict]) -> None:
    """Add to each fault the open sockets it closed and the connection attempts that
    failed (until the next fault, at most a minute), and how long until every
    client was back."""
    for n, fault in enumerate(faults):
        start = fault["started_ms"]
        end = min(
            faults[n + 1]["started_ms"] if n + 1 < len(faults) else float("inf"),
            start + ATTRIBUTE_WINDOW_MS,
        )
        closes: dict[str, int] = {}
        failed: dict[str, int] = {}
        for t, code, planned, was_open in close_log:
            if not planned and start <= t < end:
                counts = closes if was_open else failed
                counts[str(code)] = counts.get(str(code), 0) + 1
        fault["sockets_closed"] = closes
        fault["connects_failed"] = failed
        after = [row for row in timeline if start <= row["t"] < end]
        fault["most_clients_down"] = max((row["down_unplanned"] for row in after), default=0)
        back = None
        if fault["most_clients_down"] == 0:
            back = 0.0
        else:
            went_down = next(i for i, row in enumerate(after) if row["down_unplanned"] > 0)
            for row in after[went_down:]:
                if row["down_unplanned"] == 0:
                    back = round((row["t"] - start) / 1000, 1)
                    break
        fault["all_clients_back_seconds"] = back


def _grew(before: float, after: float) -> float | None:
    return round((after - before) / before, 3) if before else None


def verdict(result: dict) -> list[dict]:
    """The checks that decide the exit code (each: name, ok, detail)."""
    clients = result["clients"]
    before, after = result["before"], result["after"]
    checks = [
        {
            "name": "nothing lost",
            "ok": clients["lost_deliveries"] == 0,
            "detail": f"{clients['lost_deliveries']:,} deliveries "
            f"({len(clients['lost_messages']):,} acknowledged messages) never arrived",
        },
        {
            "name": "nothing duplicated after de-duplication by seq",
            "ok": clients["duplicates"] == 0,
            "detail": f"{clients['stored_twice']} sends stored twice, "
            f"{clients['seq_reused']} seqs carrying two sends",
        },
    ]
    for name, key in (
        ("Redis pub/sub channels", "channels"),
        ("Redis pub/sub subscriptions (NUMSUB)", "subscriptions"),
    ):
        was, now = before["pubsub"][key], after["pubsub"][key]
        checks.append(
            {
                "name": f"{name} back within {LEAK_TOLERANCE:.0%}",
                "ok": now <= was * (1 + LEAK_TOLERANCE),
                "detail": f"{was:,} before the clients, {now:,} after they left",
            }
        )
    baseline = result["warm"] or before
    was, now = baseline["rss_kib_total"], after["rss_kib_total"]
    when = "after the warm-up" if result["warm"] else "before the clients"
    checks.append(
        {
            "name": f"worker RSS back within {LEAK_TOLERANCE:.0%}",
            "ok": now <= was * (1 + LEAK_TOLERANCE),
            "detail": f"{was / 1024:,.1f} MiB {when}, {now / 1024:,.1f} MiB after "
            f"they left (both workers)",
        }
    )
    return checks


def _n(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _get(data: dict | None, *keys: str):
    for key in keys:
        if data is None:
            return None
        data = data.get(key)
    return data


def _mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.1f}"


def render(result: dict) -> str:
    config, clients, health = result["config"], result["clients"], result["health"]
    before, warm, after = result["before"], result["warm"], result["after"]
    faults = result["faults"]
    kills = [f for f in faults if f["kind"] == "kill"]
    restarts = [f for f in faults if f["kind"] == "redis"]
    lat = clients.get("latency_ms") or {}
    closes = clients["closes"]
    rows = [
        (
            "load",
            f"{config['clients']} clients in {config['rooms']} rooms, "
            f"{config['rate']:g} messages/s in all, {config['minutes']:g} min",
        ),
        ("messages sent / acknowledged", f"{_n(clients['sent'])} / {_n(clients['acked'])}"),
        (
            "sent, never acknowledged (of which stored: seen by a socket)",
            f"{_n(clients['sent_never_acked'])} ({_n(clients['seen_never_acked'])})",
        ),
        (
            "deliveries missed of those stored, never acknowledged messages",
            _n(clients["seen_never_acked_missed_deliveries"]),
        ),
        (
            "deliveries expected (per client: its room's acknowledged messages after it joined)",
            _n(clients["expected_deliveries"]),
        ),
        ("delivered", _n(clients["delivered_deliveries"])),
        (
            "**lost** deliveries (messages)",
            f"**{_n(clients['lost_deliveries'])}** ({_n(len(clients['lost_messages']))})",
        ),
        ("**duplicated** after de-duplication by seq", f"**{_n(clients['duplicates'])}**"),
        (
            "first receipts live / by a resume hello",
            f"{_n(clients['delivered']['live'])} / {_n(clients['delivered']['hello'])}",
        ),
        (
            "repeats dropped by de-duplication (live / hello)",
            f"{_n(clients['repeats']['live'])} / {_n(clients['repeats']['hello'])}",
        ),
        (
            "live latency, first receipt, ms p50 / p99 / max",
            f"{_n(lat.get('p50'))} / {_n(lat.get('p99'))} / {_n(lat.get('max'))}",
        ),
        (
            "connections (hellos) / planned reconnects",
            f"{_n(clients['connections'])} / {_n(clients['churned'])}",
        ),
        ("socket closes by code", ", ".join(f"{c}: {n}" for c, n in sorted(closes.items())) or "-"),
        ("resume hellos truncated (over 500 missed)", _n(clients["truncated_hellos"])),
        ("error frames", ", ".join(f"{c}: {n}" for c, n in clients["errors"].items()) or "-"),
        (
            "worker kills: open sockets closed, failed reconnects, all clients back (s)",
            "; ".join(
                f"{sum(f['sockets_closed'].values())}, {sum(f['connects_failed'].values())}, "
                f"{_n(f['all_clients_back_seconds'])}"
                for f in kills
            )
            or "-",
        ),
        (
            "Redis restarts: down (s), open sockets closed, failed (re)connects",
            "; ".join(
                f"{_n(f.get('down_seconds'))}, {sum(f['sockets_closed'].values())}, "
                f"{sum(f['connects_failed'].values())}"
                for f in restarts
            )
            or "-",
        ),
        ("/healthz probes: 200 / all", f"{_n(health['ok'])} / {_n(health['probes'])}"),
        (
            "/healthz failing stretches (longest, s)",
            f"{len(health['failing_windows'])} ({_n(health['longest_failing_seconds'])})",
        ),
        (
            "Redis pub/sub channels before / after the warm-up / after",
            f"{_n(before['pubsub']['channels'])} / {_n(_get(warm, 'pubsub', 'channels'))} / "
            f"{_n(after['pubsub']['channels'])}",
        ),
        (
            "Redis subscriptions (NUMSUB) before / after the warm-up / after",
            f"{_n(before['pubsub']['subscriptions'])} / "
            f"{_n(_get(warm, 'pubsub', 'subscriptions'))} / "
            f"{_n(after['pubsub']['subscriptions'])}",
        ),
        (
            "worker RSS before / after the warm-up / after, MiB",
            f"{_mib(before['rss_kib_total'])} / {_mib(_get(warm, 'rss_kib_total'))} / "
            f"{_mib(after['rss_kib_total'])}",
        ),
    ]
    lines = [
        f"Soak {result['stamp']} ({result['date']}), app at {result['commit']}, "
        f"{result['machine']['cpus']} cores, database {result['database']}, "
        f"{result['seconds']} s in all",
        "",
        "| | |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        "Checks (they set the exit code):",
        "",
        *(
            f"- {'PASS' if c['ok'] else 'FAIL'}: {c['name']} ({c['detail']})"
            for c in result["checks"]
        ),
    ]
    if clients["seen_never_acked"]:
        lines += [
            "",
            f"Note: {clients['seen_never_acked']} sends were stored (other sockets got them) but "
            "never acknowledged to their sender by the end: outside the "
            "definition of lost, they are missed deliveries all the same "
            f"({clients['seen_never_acked_missed_deliveries']}).",
        ]
    if clients["lost_messages"]:
        by_fault: dict[str, int] = {}
        for message in clients["lost_messages"]:
            by_fault[message["fault"]] = by_fault.get(message["fault"], 0) + 1
        lines += [
            "",
            "Lost messages by the fault before them: "
            + ", ".join(f"{fault}: {n}" for fault, n in by_fault.items()),
        ]
    grown = {
        kind: (before["pubsub"]["by_kind"].get(kind, 0), n)
        for kind, n in after["pubsub"]["by_kind"].items()
        if n > before["pubsub"]["by_kind"].get(kind, 0)
    }
    if grown:
        lines += [
            "",
            "Pub/sub channels that grew (before -> after): "
            + ", ".join(f"{kind}: {was} -> {now}" for kind, (was, now) in grown.items()),
        ]
    if result.get("server_log_problems"):
        lines += ["", "Server log: " + "; ".join(result["server_log_problems"])]
    return "\n".join(lines) + "\n"
