"""Send one broadcast to every connected client, the way each server kind does it,
with the call's wall-clock time in its token (~B<run>.0_<ms>~):

    python -m bench.trigger ours  --run-id R   # notifications.services.broadcast()
    python -m bench.trigger stock --run-id R   # group_send to the tutorial-style group
    python -m bench.trigger node  --run-id R   # one Redis PUBLISH

Settings come from the environment (REDIS_URL, DATABASE_URL, ...). Prints JSON:
the call's start and end (ms since the epoch).
"""

import argparse
import asyncio
import json
import os
import time


def token(run_id: int, at_ms: float) -> str:
    return f"~B{run_id}.0_{at_ms:.3f}~"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["ours", "stock", "node"])
    parser.add_argument("--run-id", type=int, required=True)
    args = parser.parse_args()

    if args.kind == "ours":
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        from django.contrib.auth import get_user_model

        from notifications.services import broadcast
        from realtime.push import send_on_commit

        # Warm the database connection, and the Redis connection pushes from this
        # process use (one to an empty group), as the stock and node calls warm
        # theirs, so the timing is the call's own.
        get_user_model().objects.exists()
        send_on_commit("bench-warm", {"type": "bench.warm"})
        started = time.time() * 1000
        record = broadcast(title=token(args.run_id, started))
        sent = record.recipient_count
    elif args.kind == "stock":
        from channels_redis.core import RedisChannelLayer

        from bench.stock.consumers import BROADCAST_GROUP

        layer = RedisChannelLayer(hosts=[os.environ["REDIS_URL"]])

        async def send() -> float:
            # Warm the Redis connection (an empty group) so the timing is the send's own.
            await layer.group_send("bench-warm", {"type": "notify", "title": ""})
            at = time.time() * 1000
            event = {"type": "notify", "title": token(args.run_id, at)}
            await layer.group_send(BROADCAST_GROUP, event)
            return at

        started = asyncio.run(send())
        sent = None
    else:
        import redis

        client = redis.Redis.from_url(os.environ["REDIS_URL"])
        client.ping()
        started = time.time() * 1000
        frame = {"type": "notification", "notification": {"title": token(args.run_id, started)}}
        sent = client.publish("notifications", json.dumps(frame))
    print(json.dumps({"started_ms": started, "returned_ms": time.time() * 1000, "sent": sent}))


if __name__ == "__main__":
    main()
