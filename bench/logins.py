"""What a handshake's login costs, in one process: the CPU of
`realtime.auth.SessionAuthMiddleware.login` for distinct users' sessions, many
at a time, as a crowd joining at once makes them, with the worker's login cache
off (every login reads the database).

    python -m bench.logins [--sqlite] [--users 2000] [--in-flight 50] [--rounds 3]

The users and their database sessions are made as the suite makes them
(bench/seed.py). Each round logs every user in, `--in-flight` at a time, and
divides the process's CPU (time.process_time: the event loop and the database
threads) by the logins; a login that does not come back logged in fails the
run. On a database of its own (PostgreSQL on 127.0.0.1:5432 when it answers,
else SQLite), with production settings and the in-process channel layer.
"""

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.procs import own_database, seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL answers")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # the session keys' file
    args = parser.parse_args()
    if args.measure:
        keys = json.loads(Path(args.measure).read_text())
        asyncio.run(measure(keys, args.in_flight, args.rounds))
        return
    with own_database("relay-logins-", sqlite=args.sqlite) as (env, workdir):
        env["REALTIME_LOGIN_CACHE_SECONDS"] = "0"
        keys_file = workdir / "keys.json"
        keys_file.write_text(json.dumps(seed(env, args.users, 0, workdir)))
        command = [sys.executable, "-m", "bench.logins", "--measure", str(keys_file)]
        command += ["--in-flight", str(args.in_flight), "--rounds", str(args.rounds)]
        subprocess.run(command, env=env, check=True)


async def measure(keys: list[str], in_flight: int, rounds: int) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from realtime.auth import SessionAuthMiddleware

    middleware = SessionAuthMiddleware(None)
    slots = asyncio.Semaphore(in_flight)

    async def log_in(key: str) -> None:
        async with slots:
            _, user = await middleware.login(key)
        if not user.is_authenticated:
            raise SystemExit(f"session {key} did not log in")

    async def round_of(some: list[str]) -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(log_in(key) for key in some))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        return cpu / len(some) * 1e6, len(some) / wall

    await round_of(keys[: len(keys) // 10 or 1])  # warm up: threads, connections, caches
    for number in range(1, rounds + 1):
        per_login, rate = await round_of(keys)
        print(f"round {number}: {per_login:,.0f} us of CPU a login, {rate:,.0f} logins/s")


if __name__ == "__main__":
    main()
