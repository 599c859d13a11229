"""What a page costs the workers: requests per second and the workers' CPU per
request, for pages as logged-in people load them.

    python -m bench.pages [--sqlite] [--kind ours|ours-daphne|ours-runserver]
                          [--clients 20] [--seconds 10] [--rounds 2] [--members 10]

The app's two workers (`manage.py serve --workers 2`, or the other launches of
bench/main.py) with a private Redis, on a database of their own (PostgreSQL on
127.0.0.1:5432 when it answers, else SQLite), production settings and static
files collected. A public room with 50 messages and `--members` members; `--clients`
distinct logged-in users load each page over kept-alive connections for
`--seconds`, after a round of the same to warm up, `--rounds` times. Each page:
its statuses, requests per second, and the workers' CPU (/proc) per request.
An answer other than 200 fails the run. The load generator is this process,
so it competes with the workers for the cores: compare runs, not machines.
"""

import argparse
import asyncio
import subprocess
import tempfile
import time
from pathlib import Path

from bench import procs
from bench.seed import JOIN_ROOM

MESSAGES = 50


def write_room(members: int) -> str:
    """Code for `manage.py shell`: the room's history, stored as a send is
    (chat.services), by ten of its users, and its first `members` users made
    members (its members panel lists them all)."""
    return f"""
from django.contrib.auth import get_user_model
from chat import services
from chat.models import Membership, Room
room = Room.objects.get(slug={JOIN_ROOM!r})
users = list(get_user_model().objects.order_by("pk")[:max({members}, 10)])
for number in range({MESSAGES}):
    services.message_create(
        room=room, author=users[number % 10], body=f"Message {{number}} of the history",
        client_id=f"bench-pages-{{number}}",
    )
Membership.objects.bulk_create(
    [Membership(room=room, user=user) for user in users[:{members}]], ignore_conflicts=True
)
"""


PAGES = {
    "the room": f"/chat/{JOIN_ROOM}/",
    "the list of rooms": "/chat/",
    "the notifications": "/notifications/",
}


async def load(port: int, session: str, path: str, until: float, statuses: dict[int, int]) -> None:
    """Load `path` again and again on one kept-alive connection until `until`."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid={session}\r\n\r\n"
    ).encode()
    try:
        while time.monotonic() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


async def crowd(server: procs.Server, sessions: list[str], path: str, seconds: float) -> dict:
    statuses: dict[int, int] = {}
    until = time.monotonic() + seconds
    await asyncio.gather(
        *(
            load(server.ports[index % len(server.ports)], session, path, until, statuses)
            for index, session in enumerate(sessions)
        )
    )
    return statuses


def measure(server: procs.Server, sessions: list[str], path: str, seconds: float) -> str:
    asyncio.run(crowd(server, sessions, path, seconds))  # warm up
    workers = server.worker_pids()
    cpu, wall = sum(procs.cpu_seconds(pid) for pid in workers), time.perf_counter()
    statuses = asyncio.run(crowd(server, sessions, path, seconds))
    cpu = sum(procs.cpu_seconds(pid) for pid in workers) - cpu
    wall = time.perf_counter() - wall
    answered = sum(statuses.values())
    if set(statuses) != {200}:
        raise procs.BenchError(f"{path}: answers {statuses}\n{server.logs()}")
    return f"{answered / wall:,.0f}/s, {cpu / answered * 1000:.2f} ms of the workers' CPU a request"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL answers")
    parser.add_argument("--kind", choices=["ours", "ours-daphne", "ours-runserver"], default="ours")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--members", type=int, default=10, help="members of the room")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relay-pages-") as scratch:
        workdir = Path(scratch)
        redis = procs.bench_redis(workdir).start()
        database = procs.Database(workdir, allow_postgres=not args.sqlite)
        try:
            env = procs.app_env(database.url)
            env["REDIS_URL"] = redis.url
            env["DJANGO_STATIC_ROOT"] = str(workdir / "static")
            sessions = procs.seed(env, max(args.clients, args.members), 1, workdir)[: args.clients]
            for command in (
                ["collectstatic", "--noinput", "-v", "0"],
                ["shell", "-c", write_room(args.members)],
            ):
                subprocess.run(
                    [procs.PYTHON, "manage.py", *command],
                    cwd=procs.ROOT,
                    env=env,
                    check=True,
                    timeout=300,
                )
            server = procs.SERVERS[args.kind](env, workdir).start()
            try:
                print(
                    f"{args.kind}, {database.engine}, {args.clients} clients,"
                    f" {args.members} members of the room",
                    flush=True,
                )
                for number in range(1, args.rounds + 1):
                    for name, path in PAGES.items():
                        result = measure(server, sessions, path, args.seconds)
                        print(f"round {number}, {name} ({path}): {result}", flush=True)
            finally:
                server.stop()
        finally:
            database.drop()
            redis.stop()


if __name__ == "__main__":
    main()
