"""What the database writes for a stored send: pages of SQLite's write-ahead log
per commit, or bytes of PostgreSQL's, and the writer thread's CPU per send.

    python -m bench.writes [--sqlite] [--batch 1] [--sends 1000] [--rounds 3]
                           [--pause MS] [--other-writer]

Sends spread at random over 200 rooms of 10 members, as in the rooms workload
(bench.main), stored through chat.writer.store_sends in batches of `--batch`, as
the writer stores them: every commit writes the index pages its rows land on,
and in many rooms those are seldom the pages the commit before wrote. On SQLite
the log is not checkpointed while a round is measured, so its growth is what
the round wrote; the checkpoint that copies it into the database later is not
counted. Medians over `--rounds`, on a database of its own
(PostgreSQL on 127.0.0.1:5432 when it answers, else SQLite), with production
settings and the in-process channel layer.

Two options put back what a worker's writer meets at a low rate, which back to
back commits do not: `--pause MS` sleeps between commits (the thread idles
between batches, and its processor's caches and predictions go cold), and
`--other-writer` has a second connection commit a change to a room's row before
each commit, as another worker's writer does (on SQLite, a connection drops its
whole page cache at the start of a transaction when another one has committed
since). Neither the sleep nor the other connection's commit is counted.
"""

import argparse
import itertools
import os
import random
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.procs import own_database

ROOMS = 200
MEMBERS = 10
WAL_FRAME_HEADER = 24  # bytes before each page in SQLite's log


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL answers")
    parser.add_argument("--batch", type=int, default=1, help="sends per commit")
    parser.add_argument("--sends", type=int, default=1000, help="sends per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pause", type=float, default=0, help="ms slept between commits")
    parser.add_argument(
        "--other-writer",
        action="store_true",
        help="another connection commits a change before each commit",
    )
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.batch, args.sends, args.rounds, args.pause / 1000, args.other_writer)
        return
    with own_database("relay-writes-", sqlite=args.sqlite) as (env, _):
        command = [sys.executable, "-m", "bench.writes", "--measure"]
        command += ["--batch", str(args.batch), "--sends", str(args.sends)]
        command += ["--rounds", str(args.rounds), "--pause", str(args.pause)]
        command += ["--other-writer"] if args.other_writer else []
        subprocess.run(command, env=env, check=True)


def measure(batch: int, sends: int, rounds: int, pause: float, other_writer: bool) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from chat import events, services, writer
    from chat.models import Membership

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    user_model.objects.bulk_create(
        user_model(username=f"writes{i}", email=f"writes{i}@example.com")
        for i in range(ROOMS * MEMBERS)
    )
    users = list(user_model.objects.filter(username__startswith="writes").order_by("pk"))
    rooms = []
    for number in range(ROOMS):
        members = users[number * MEMBERS : (number + 1) * MEMBERS]
        room = services.room_create(name=f"Writes {number}", created_by=members[0])
        Membership.objects.bulk_create(Membership(room=room, user=user) for user in members[1:])
        rooms.append((room, members))
    numbers = itertools.count()

    def new_sends(count: int) -> list[services.NewMessage]:
        sends = []
        for _ in range(count):
            room, members = random.choice(rooms)
            number = next(numbers)
            body, client_id = f"hello there, number {number}", f"writes-{number}"
            sends.append(services.NewMessage(room, random.choice(members), body, client_id))
        return sends

    def commit(sends: list[services.NewMessage]) -> None:
        with events.pushes_held():
            outcomes = writer.store_sends(sends)
        refused = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        if refused:
            raise refused[0]

    other = OtherWriter(connection, [room.pk for room, _ in rooms]) if other_writer else None

    def store(count: int) -> float:
        """Store `count` sends; return the CPU time this thread spent on the
        other writer's commits meanwhile, in seconds (not theirs)."""
        excluded = 0.0
        for _ in range(count // batch):
            if pause:
                time.sleep(pause)
            if other is not None:
                excluded += other.commit()
            commit(new_sends(batch))
        return excluded

    def written() -> int:
        """Bytes of the database's log so far."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
                return int(cursor.fetchone()[0])
            return os.path.getsize(f"{connection.settings_dict['NAME']}-wal")

    store(sends // 2)  # warm up: caches, connections, every room's pages
    logged: list[float] = []
    spent: list[float] = []
    for _ in range(rounds):
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                cursor.execute("PRAGMA wal_autocheckpoint=0")
        before, started = written(), time.thread_time()
        excluded = store(sends)
        spent.append((time.thread_time() - started - excluded) / sends * 1e6)
        logged.append((written() - before) / (sends // batch))
    commits = f"{sends // batch:,} commits of {batch}"
    if other_writer:
        print(f"{commits}: the log not measured (the other writer's commits are in it)")
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA page_size")
            page_size = cursor.fetchone()[0]
        pages = statistics.median(logged) / (page_size + WAL_FRAME_HEADER)
        print(f"{commits}: {pages:.1f} log pages per commit, {pages / batch:.2f} per send")
    else:
        per_send = statistics.median(logged) / batch
        print(f"{commits}: {per_send:,.0f} bytes of log per send")
    rounds_text = ", ".join(f"{value:,.0f}" for value in spent)
    print(f"the thread's CPU per send: {statistics.median(spent):,.0f} us (rounds: {rounds_text})")


class OtherWriter:
    """Another worker's writer, as this one's connection sees it: a connection
    of its own that commits a change to a room's row. On SQLite, this
    connection then drops its page cache at its next transaction. The
    commit's own CPU is measured, for the caller to leave out."""

    def __init__(self, connection: Any, room_ids: list[int]) -> None:
        self.room_ids = room_ids
        self.raw = connection.get_new_connection(connection.get_connection_params())
        marker = "?" if connection.vendor == "sqlite" else "%s"
        self.sql = f"UPDATE chat_room SET last_seq = last_seq WHERE id = {marker}"  # noqa: S608

    def commit(self) -> float:
        """Commit the change; the CPU time it took this thread, in seconds."""
        started = time.thread_time()
        cursor = self.raw.cursor()
        cursor.execute(self.sql, (random.choice(self.room_ids),))
        cursor.close()
        self.raw.commit()
        return time.thread_time() - started


if __name__ == "__main__":
    main()
