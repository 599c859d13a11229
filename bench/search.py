"""Message search at scale: seed a database with many messages in bulk, then time
chat.search.search_messages (the ids query and the page's snippets) over a spread
of queries as a user who can read many rooms; report p50/p95 per database.

    python -m bench.search                      # PostgreSQL (when it answers) and SQLite
    python -m bench.search --messages 100000 --engines sqlite

Each engine gets a database of its own (PostgreSQL: `relay_bench_<random>`,
dropped at the end; SQLite: a file in a temporary directory), migrated with
`manage.py migrate`, then filled by raw bulk SQL: PostgreSQL's COPY with the
search index dropped and made again from its own definition afterwards; on
SQLite the FTS5 triggers are dropped for the load, the index rebuilt in one pass
and the triggers made again from their own definitions. The timed part runs
in a child process per engine (Django binds one database per process).

Bodies are 4-30 words drawn from a Zipf-distributed vocabulary: real English
and Russian words at the head (in several forms), made-up Latin and Cyrillic
words in the tail. The reader is a member of most private rooms and can read
every public one; the other private rooms are never searched, but their
messages are in the index all the same.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ENGLISH = (
    "deploy",
    "deployed",
    "deploying",
    "deployment",
    "release",
    "build",
    "builds",
    "server",
    "servers",
    "database",
    "message",
    "messages",
    "meeting",
    "meetings",
    "report",
    "reports",
    "customer",
    "customers",
    "invoice",
    "invoices",
    "ticket",
    "tickets",
    "review",
    "reviews",
    "budget",
    "schedule",
    "schedules",
    "design",
    "designs",
    "office",
    "question",
    "questions",
    "answer",
    "answers",
    "project",
    "projects",
    "morning",
    "weekend",
    "holiday",
    "coffee",
    "network",
    "latency",
    "migration",
    "migrations",
    "incident",
    "incidents",
    "backup",
    "backups",
    "password",
)
RUSSIAN = (
    "сообщение",
    "сообщения",
    "сообщений",
    "встреча",
    "встречи",
    "встречу",
    "отчёт",
    "отчёта",
    "отчёты",
    "клиент",
    "клиента",
    "клиенты",
    "сервер",
    "сервера",
    "серверы",
    "проект",
    "проекта",
    "проекты",
    "вопрос",
    "вопросы",
    "ответ",
    "ответы",
    "бюджет",
    "релиз",
    "релиза",
    "сборка",
    "сборки",
    "база",
    "базы",
    "данных",
    "утро",
    "выходные",
    "праздник",
    "кофе",
    "сеть",
    "задержка",
    "миграция",
    "миграции",
    "инцидент",
    "инциденты",
    "копия",
    "пароль",
    "счёт",
    "счета",
)
LATIN_SYLLABLES = ("ka", "lo", "mi", "ne", "ra", "ta", "vu", "se", "ri", "po", "du", "fe", "gi")
CYRILLIC_SYLLABLES = ("бю", "ги", "дэ", "жи", "зя", "лю", "мя", "ны", "пё", "фи", "цы", "чу", "шэ")
TAIL_WORDS = 20000


def vocabulary(rng: random.Random) -> list[str]:
    """The words, most frequent first."""
    head = [*ENGLISH, *RUSSIAN]
    rng.shuffle(head)
    words, seen = list(head), set(head)
    while len(words) < len(head) + TAIL_WORDS:
        syllables = LATIN_SYLLABLES if len(words) % 2 else CYRILLIC_SYLLABLES
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_weights(n: int) -> list[float]:
    cumulative, total = [], 0.0
    for rank in range(1, n + 1):
        total += 1 / rank**1.05
        cumulative.append(total)
    return cumulative


# ---- Seeding (in the child, with Django set up) --------------------------------------


def seed(args, words: list[str], rng: random.Random) -> dict:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from chat.models import Membership, Room

    users = get_user_model()
    hashed = make_password("bench-search-password")
    users.objects.bulk_create(
        [users(username=f"author{n}", password=hashed) for n in range(args.authors)]
    )
    author_ids = list(
        users.objects.filter(username__startswith="author").values_list("pk", flat=True)
    )
    reader = users.objects.create(username="reader", password=hashed)
    rooms = []
    for n in range(args.rooms):
        kind = Room.Kind.PRIVATE if n % 10 < 3 else Room.Kind.PUBLIC
        rooms.append(Room(slug=f"room-{n}", name=f"Room {n}", kind=kind))
    Room.objects.bulk_create(rooms, batch_size=2000)
    rooms = list(Room.objects.order_by("pk"))
    private = [r for r in rooms if r.kind == Room.Kind.PRIVATE]
    joined = private[: len(private) * 2 // 3] + [r for r in rooms if r.is_public][:200]
    Membership.objects.bulk_create([Membership(room=r, user=reader) for r in joined])

    cumulative = zipf_weights(len(words))
    started = time.monotonic()
    now = datetime.now(UTC)
    span = timedelta(days=365)
    seqs = dict.fromkeys((r.pk for r in rooms), 0)
    room_ids = [r.pk for r in rooms]
    rows = []
    for n in range(args.messages):
        room_id = rng.choice(room_ids)
        seqs[room_id] += 1
        body = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(4, 30)))
        created = now - span + span * (n / args.messages)
        rows.append((room_id, seqs[room_id], rng.choice(author_ids), body, f"b{n}", created))
    generated = time.monotonic() - started

    started = time.monotonic()
    if connection.vendor == "postgresql":
        _load_postgresql(connection, rows)
    else:
        _load_sqlite(connection, rows)
    for room_id, last in seqs.items():
        if last:
            Room.objects.filter(pk=room_id).update(last_seq=last)
    return {
        "messages": len(rows),
        "rooms": len(rooms),
        "readable_rooms": len({r.pk for r in joined} | {r.pk for r in rooms if r.is_public}),
        "reader_id": reader.pk,
        "generate_s": round(generated, 1),
        "load_and_index_s": round(time.monotonic() - started, 1),
        "author_ids": author_ids,
    }


def _load_postgresql(connection, rows) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'chat_message_search'")
        (index_sql,) = cursor.fetchone()
        cursor.execute("DROP INDEX chat_message_search")
        raw = cursor.cursor
        columns = "room_id, seq, author_id, body, client_id, created_at, html"
        with raw.copy(f"COPY chat_message ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((*row, ""))
        cursor.execute(index_sql)
        # As autovacuum would after a load this size (memberships and rooms too).
        cursor.execute("ANALYZE")


def _load_sqlite(connection, rows) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sql FROM sqlite_master"
            " WHERE type = 'trigger' AND name LIKE 'chat_message_fts_%'"
        )
        triggers = [sql for (sql,) in cursor.fetchall()]
        for name in ("insert", "update", "delete"):
            cursor.execute(f"DROP TRIGGER chat_message_fts_{name}")
        cursor.executemany(
            "INSERT INTO chat_message (room_id, seq, author_id, body, client_id, created_at, html)"
            " VALUES (%s, %s, %s, %s, %s, %s, '')",
            [(*row[:5], row[5].isoformat(sep=" ")) for row in rows],
        )
        cursor.execute("INSERT INTO chat_message_fts (chat_message_fts) VALUES ('rebuild')")
        for sql in triggers:
            cursor.execute(sql)
        cursor.execute("ANALYZE")


# ---- Queries ---------------------------------------------------------------------------


def queries(words: list[str], rng: random.Random, count: int, seeded: dict, phrases) -> list:
    """(kind, query, filters) in a shuffled spread of what people search for."""
    from datetime import date

    from chat.models import Room

    head = {*ENGLISH, *RUSSIAN}
    common = [w for w in words[:60] if w in head]
    mid = words[200:3000]
    rare = words[8000:]
    rooms = list(Room.objects.filter(kind=Room.Kind.PUBLIC).values_list("slug", flat=True)[:50])
    from django.contrib.auth import get_user_model

    authors = list(get_user_model().objects.filter(pk__in=seeded["author_ids"][:20]))
    kinds = [
        ("common word", lambda: (rng.choice(common), {})),
        ("mid word", lambda: (rng.choice(mid), {})),
        ("rare word", lambda: (rng.choice(rare), {})),
        ("absent word", lambda: ("zzqx" + str(rng.randint(0, 10**6)), {})),
        ("two words", lambda: (f"{rng.choice(common)} {rng.choice(mid)}", {})),
        ("phrase", lambda: (f'"{rng.choice(phrases)}"', {})),
        ("either word", lambda: (f"{rng.choice(mid)} or {rng.choice(mid)}", {})),
        ("word -other", lambda: (f"{rng.choice(common)} -{rng.choice(common)}", {})),
        ("in a room", lambda: (rng.choice(common), {"room": rng.choice(rooms)})),
        ("by an author", lambda: (rng.choice(mid), {"author": rng.choice(authors)})),
        (
            "in a month",
            lambda: (
                rng.choice(common),
                {
                    "after": date.today() - timedelta(days=200),
                    "before": date.today() - timedelta(days=170),
                },
            ),
        ),
    ]
    spread = [(name, *make()) for _ in range(count // len(kinds) + 1) for name, make in kinds]
    rng.shuffle(spread)
    return spread[:count]


def measure(args) -> dict:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from chat import search
    from chat.models import Message, Room

    rng = random.Random(args.seed)
    words = vocabulary(rng)
    seeded = seed(args, words, rng)
    reader = get_user_model().objects.get(pk=seeded["reader_id"])
    phrases = []
    for body in Message.objects.order_by("?").values_list("body", flat=True)[:200]:
        parts = body.split()
        start = rng.randrange(len(parts) - 1)
        phrases.append(" ".join(parts[start : start + 2]))
    spread = queries(words, rng, args.queries, seeded, phrases)
    rooms = {r.slug: r for r in Room.objects.filter(slug__in={f.get("room") for _, _, f in spread})}

    def run(query, filters):
        if "room" in filters:
            filters = {**filters, "room": rooms[filters["room"]]}
        started = time.perf_counter()
        page = search.search_messages(user=reader, query=query, **filters)
        return time.perf_counter() - started, len(page.hits)

    for _, query, filters in spread[:10]:  # warm the caches
        run(query, filters)
    timings: dict[str, list[float]] = {}
    hits: dict[str, list[int]] = {}
    for kind, query, filters in spread:
        seconds, found = run(query, filters)
        timings.setdefault(kind, []).append(seconds * 1000)
        hits.setdefault(kind, []).append(found)
    every = sorted(t for ts in timings.values() for t in ts)
    result = {
        "engine": connection.vendor,
        "seed": {k: v for k, v in seeded.items() if k not in ("author_ids", "reader_id")},
        "queries": len(every),
        "p50_ms": round(percentile(every, 50), 1),
        "p95_ms": round(percentile(every, 95), 1),
        "max_ms": round(every[-1], 1),
        "by_kind": {
            kind: {
                "n": len(ts),
                "p50_ms": round(percentile(sorted(ts), 50), 1),
                "p95_ms": round(percentile(sorted(ts), 95), 1),
                "mean_hits": round(statistics.mean(hits[kind]), 1),
            }
            for kind, ts in sorted(timings.items())
        },
        "plans": {
            "common word": explain(search, reader, words[0]),
            "rare word": explain(search, reader, words[-1]),
        },
    }
    return result


def explain(search, reader, word: str) -> list[str]:
    """The plan of the ids query for one word, as search_messages first runs it
    (on PostgreSQL a plan past chat.search.PLANNER_DEADLINE_MS is run again
    with bitmap scans only)."""
    from django.db import connection

    filters = search._Filters(reader, None, None, None, None, None)
    if connection.vendor == "postgresql":
        messages = search.postgresql_matches(word, filters).values_list("pk", flat=True)[:21]
        return messages.explain().splitlines()
    sql, params = search.sqlite_ids_sql(search.parse_query(word), filters, 21)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return [" ".join(str(part) for part in row) for row in cursor.fetchall()]


def percentile(ordered: list[float], p: float) -> float:
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


# ---- The parent: one database and one child per engine ---------------------------------


def run_engine(engine: str, args) -> dict | None:
    from bench.procs import Database, app_env, postgres_available

    if engine == "postgresql" and not postgres_available():
        print("PostgreSQL does not answer on 127.0.0.1:5432: skipped", file=sys.stderr)
        return None
    with tempfile.TemporaryDirectory(prefix="relay-bench-search-") as workdir:
        database = Database(Path(workdir), allow_postgres=engine == "postgresql")
        try:
            env = app_env(database.url)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
                cwd=ROOT,
                env=env,
                check=True,
                timeout=600,
            )
            child = [
                sys.executable, "-m", "bench.search", "--child",
                "--messages", str(args.messages), "--rooms", str(args.rooms),
                "--authors", str(args.authors), "--queries", str(args.queries),
                "--seed", str(args.seed),
            ]  # fmt: skip
            done = subprocess.run(
                child, cwd=ROOT, env=env, check=True, capture_output=True, text=True, timeout=7200
            )
            return json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            database.drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rooms", type=int, default=2000)
    parser.add_argument("--authors", type=int, default=500)
    parser.add_argument("--queries", type=int, default=330)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--engines", default="postgresql,sqlite")
    parser.add_argument("--out", help="also write the results here (JSON)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args)))
        return
    results = []
    for engine in args.engines.split(","):
        result = run_engine(engine.strip(), args)
        if result is None:
            continue
        results.append(result)
        print(report(result))
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))


def report(result: dict) -> str:
    seed = result["seed"]
    lines = [
        f"{result['engine']}: {seed['messages']:,} messages in {seed['rooms']} rooms "
        f"({seed['readable_rooms']} readable by the searcher); load and index "
        f"{seed['load_and_index_s']} s",
        f"  {result['queries']} searches: p50 {result['p50_ms']} ms, "
        f"p95 {result['p95_ms']} ms, max {result['max_ms']} ms",
    ]
    for kind, row in result["by_kind"].items():
        lines.append(
            f"    {kind:<13} n={row['n']:<3} p50 {row['p50_ms']:>7} ms  "
            f"p95 {row['p95_ms']:>7} ms  hits/page {row['mean_hits']}"
        )
    for kind, plan in result["plans"].items():
        lines.append(f"  plan of a {kind}'s ids query:")
        lines += [f"    {line}" for line in plan]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
