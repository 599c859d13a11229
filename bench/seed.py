"""Create the benchmark's users, their sessions and rooms in bulk; write the
session keys as JSON.

    DJANGO_SETTINGS_MODULE=config.settings python -m bench.seed --users 10000 \
        --rooms 200 --out keys.json

Users are `bench<N>` (one password hash for all), each with one database session
made with SessionStore's encoding, as `login()` would leave it. Rooms are public:
`bench-fanout`, `bench-join` and `bench-room-<i>`. With `--room-members M`, user N
(N < rooms x M) is a member of `bench-room-<N // M>`, the room the rooms workload
connects it to: people talking in a room are its members. Without that, every
kind's first send in a room made a membership and the kind measured first paid
for all of them.
"""

import argparse
import json
import os
import sys
from datetime import timedelta

FANOUT_ROOM = "bench-fanout"
JOIN_ROOM = "bench-join"


def room_slug(index: int) -> str:
    return f"bench-room-{index}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--first", type=int, default=0, help="number of the first user")
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument(
        "--room-members", type=int, default=0, help="members of each bench-room-<i> (see above)"
    )
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()

    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from chat.models import Membership, Room

    user_model = get_user_model()
    hashed = make_password(get_random_string(24))
    names = [f"bench{n}" for n in range(args.first, args.first + args.users)]
    user_model.objects.bulk_create(
        [user_model(username=name, password=hashed) for name in names], batch_size=2000
    )
    by_name = dict(user_model.objects.filter(username__in=names).values_list("username", "pk"))
    # Every user has the same password hash, so the same session auth hash.
    auth_hash = user_model(pk=0, password=hashed).get_session_auth_hash()
    store = SessionStore()
    expire = timezone.now() + timedelta(days=1)
    keys, rows = [], []
    for name in names:
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = store.encode(
            {
                SESSION_KEY: str(by_name[name]),
                BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
                HASH_SESSION_KEY: auth_hash,
            }
        )
        rows.append(Session(session_key=key, session_data=data, expire_date=expire))
        keys.append(key)
    Session.objects.bulk_create(rows, batch_size=2000)
    slugs = [FANOUT_ROOM, JOIN_ROOM, *(room_slug(i) for i in range(args.rooms))]
    Room.objects.bulk_create(
        [Room(slug=slug, name=slug, kind=Room.Kind.PUBLIC) for slug in slugs],
        ignore_conflicts=True,
    )
    if args.room_members:
        room_ids = dict(
            Room.objects.filter(slug__in=[room_slug(i) for i in range(args.rooms)]).values_list(
                "slug", "pk"
            )
        )
        Membership.objects.bulk_create(
            [
                Membership(
                    room_id=room_ids[room_slug(n // args.room_members)], user_id=by_name[name]
                )
                for n, name in enumerate(names, start=args.first)
                if n < args.rooms * args.room_members
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
    with open(args.out, "w") as handle:
        json.dump({"sessions": keys, "user_ids": [by_name[n] for n in names]}, handle)
    print(f"seeded {len(keys)} users and sessions, {len(slugs)} rooms", file=sys.stderr)


if __name__ == "__main__":
    main()
