"""What the writer's thread spends on one stored send, in one process, by what
it sets off: a member's send in a public room, the same mentioning another
member who is away, and a direct message to someone away. The two notified
kinds grow their recipient's unread notification (one per conversation, one
per room's mentions) with each message.

    python -m bench.sends [--sqlite] [--sends 400] [--rounds 5]

Batches of one send, back to back, through chat.writer.store_sends as the
writer runs them (the transaction, then what its commit sets off: room events,
the signals and their receivers, notifications). The pushes are held, as the
writer's are, and dropped: in the server its event loop sends them, off the
writer's thread (here, with no loop, each would start a thread and a loop of
its own: a fifth of a room member's send). The thread's own CPU
(time.thread_time) per send, a median over rounds that alternate the two
kinds; the database's work is not counted. On a database of its own
(PostgreSQL on 127.0.0.1:5432 when it answers, else SQLite), with production
settings and the in-process channel layer.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

from bench.procs import own_database

KINDS = ("room", "mention", "direct")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL answers")
    parser.add_argument("--sends", type=int, default=400, help="sends per round and kind")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.sends, args.rounds)
        return
    with own_database("relay-sends-", sqlite=args.sqlite) as (env, _):
        command = [sys.executable, "-m", "bench.sends", "--measure"]
        command += ["--sends", str(args.sends), "--rounds", str(args.rounds)]
        subprocess.run(command, env=env, check=True)


def measure(sends: int, rounds: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from chat import events, services, writer
    from chat.models import Membership

    call_command("migrate", verbosity=0)
    user_model = get_user_model()
    people = 20
    users = [
        user_model.objects.create_user(f"sends{i}", email=f"sends{i}@example.com")
        for i in range(people + 1)
    ]
    room = services.room_create(name="Sends", created_by=users[0])
    Membership.objects.bulk_create(Membership(room=room, user=user) for user in users[1:])
    directs = [
        services.direct_room_open(user=users[0], username=other.username) for other in users[1:]
    ]

    def send(kind: str, index: int) -> services.NewMessage:
        body = "hello"
        if kind == "direct":  # users[0] writes to each of the others in turn
            where, author = directs[index % people], users[0]
        else:
            where, author = room, users[1 + index % people]
            if kind == "mention":  # of the next member, who is away
                body = f"@{users[1 + (index + 1) % people].username} hello"
        client_id = f"{kind}-{time.monotonic_ns()}-{index}"
        return services.NewMessage(room=where, author=author, body=body, client_id=client_id)

    def round_of(kind: str, count: int) -> float:
        started = time.thread_time()
        for index in range(count):
            with events.pushes_held():
                (outcome,) = writer.store_sends([send(kind, index)])
            if isinstance(outcome, Exception):
                raise outcome
        return (time.thread_time() - started) / count * 1e6

    for kind in KINDS:  # warm up: caches, connections, each notification's first row
        round_of(kind, sends // 2)
    spent: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for _ in range(rounds):
        for kind in KINDS:
            spent[kind].append(round_of(kind, sends))
    for kind in KINDS:
        rounds_text = ", ".join(f"{value:,.0f}" for value in spent[kind])
        median = statistics.median(spent[kind])
        print(f"{kind}: {median:,.0f} us of the thread's CPU per send (rounds: {rounds_text})")
    # No task worker runs here: every email run enqueued is still there.
    notifying = (sends // 2 + sends * rounds) * (len(KINDS) - 1)
    runs = DBTaskResult.objects.filter(task_path="notifications.tasks.email_send").count()
    print(f"email runs enqueued: {runs:,} for {notifying:,} sends that notify someone away")


if __name__ == "__main__":
    main()
