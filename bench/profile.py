"""Summarize a py-spy `raw` (collapsed stacks) profile: where a worker's CPU goes."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")

# The package a frame's file belongs to, by path fragment (first match wins).
PACKAGES = [
    ("channels_redis/", "channels_redis"),
    ("channels/", "channels"),
    ("daphne/", "daphne"),
    ("autobahn/", "autobahn"),
    ("twisted/", "twisted"),
    ("twisted.", "twisted"),
    ("txaio/", "txaio"),
    ("asgiref/", "asgiref"),
    ("redis/", "redis-py"),
    ("msgpack/", "msgpack"),
    ("django/", "django"),
    ("psycopg", "psycopg"),
    ("asyncio/", "asyncio"),
    ("concurrent/", "concurrent.futures"),
    ("threading.py", "threading"),
    ("json/", "json"),
    ("pprint.py", "pprint (autobahn's connection log)"),
    ("logging/", "logging"),
    ("selectors.py", "selectors"),
    ("socket.py", "socket"),
    ("copy.py", "copy"),
    ("chat/", "app: chat"),
    ("realtime/", "app: realtime"),
    ("notifications/", "app: notifications"),
]


# Leaf frames where a thread waits rather than computes (the wait is the other side's
# work: the kernel's epoll, PostgreSQL's answer, the thread pool's queue).
WAITS = {
    "EpollSelector.select",
    "Connection.wait",
    "wait_conn",
    "Condition.wait",
    "Event.wait",
    "SimpleQueue.get",
    "Queue.get",
    "_worker",  # concurrent.futures: an idle pool thread blocked on its queue
    # realtime.db's database threads (a writer's too) blocked on their queue:
    # SimpleQueue.get is C, so the thread's own frame is the leaf. Counted
    # busy, it was three quarters of the samples of a profile of the rooms
    # workload.
    "DatabaseThreads._work",
}


def package_of(file: str) -> str:
    for fragment, name in PACKAGES:
        if fragment in file:
            return name
    return "other"


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for raw in stack.split(";"):
        match = FRAME.match(raw)
        if match:
            frames.append((match["func"], match["file"]))
        else:
            frames.append((raw, ""))
    return frames


def summarize(path: Path, top: int = 30) -> dict:
    """Self and inclusive sample shares per function and per package."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    self_package: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    total = busy = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = _frames(stack)
        if not frames:
            continue
        leaf_func, leaf_file = frames[-1]
        if leaf_func in WAITS:
            waiting[leaf_func] += count
            continue
        busy += count
        self_time[f"{leaf_func} ({leaf_file})"] += count
        self_package[package_of(leaf_file)] += count
        for name in {f"{func} ({file})" for func, file in frames}:
            inclusive[name] += count
    if busy == 0:
        return {"samples": total, "busy": 0}

    def share(counter: Counter[str], n: int) -> list[list]:
        return [[name, round(100 * count / busy, 1)] for name, count in counter.most_common(n)]

    return {
        "samples": total,
        "busy": busy,
        "waiting": {name: round(100 * count / total, 1) for name, count in waiting.items()},
        "self": share(self_time, top),
        "inclusive": share(inclusive, top + 20),
        "self_by_package": share(self_package, len(PACKAGES) + 1),
    }


def render(summary: dict) -> str:
    lines = [
        f"py-spy samples: {summary['samples']} (all threads, idle threads left out by py-spy); "
        f"{summary.get('busy')} busy, the rest waiting in {summary.get('waiting')} (% of all).",
        "Percentages below are of the busy samples.",
        "",
    ]
    for title, key in (
        ("Self time by package (leaf frame)", "self_by_package"),
        ("Self time by function (leaf frame)", "self"),
        ("Inclusive time by function (on the stack)", "inclusive"),
    ):
        lines.append(title)
        lines += [f"  {pct:5.1f}%  {name}" for name, pct in summary.get(key, [])]
        lines.append("")
    return "\n".join(lines)
