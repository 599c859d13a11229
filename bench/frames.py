"""What reading a client's frame costs, from its bytes to the application's
`receive()`, in one process: autobahn's own `dataReceived`, autobahn's parser
without its debug line, and realtime.incoming's reader.

    python -m bench.frames [--frames 20000] [--rounds 3]

A socket Daphne upgrades over an in-memory transport (no reactor runs), a chat
send's frame (masked, 95 bytes of JSON) handed to its `dataReceived` again and
again, the application reading each one. The process's CPU (time.process_time)
per frame, the median of the rounds, for each way in turn. A hot loop: in a
server, with other work between two frames, each costs several times as much.
"""

import argparse
import asyncio
import os
import statistics
import time

WAYS = ("autobahn", "autobahn's parser", "realtime.incoming")
SEND = (
    '{"type": "send", "body": "hello there, this is message 12345", '
    '"client_id": "0123456789abcdef"}'
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=20_000, help="frames per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    for way in WAYS:
        costs = asyncio.run(measure(way, args.frames, args.rounds))
        rounds = ", ".join(f"{cost:.2f}" for cost in costs)
        print(f"{way}: {statistics.median(costs):.2f} us of CPU a frame (rounds: {rounds})")


async def measure(way: str, frames: int, rounds: int) -> list[float]:
    from harness import in_memory
    from realtime import incoming

    received = 0
    accepted = asyncio.Event()
    all_read = asyncio.Event()

    async def application(scope, receive, send):
        nonlocal received
        await receive()
        await send({"type": "websocket.accept"})
        accepted.set()
        while True:
            await receive()
            received += 1
            if received == frames:
                all_read.set()

    _, transport = in_memory.upgrade(application)
    await asyncio.wait_for(accepted.wait(), 5)
    protocol = transport.protocol
    if way == "autobahn's parser":
        assert incoming.read_without_debug_line(protocol)
    elif way == "realtime.incoming":
        assert incoming.read_frames(protocol)
    data = in_memory.client_frame(SEND.encode())
    costs = []
    for _ in range(rounds):
        received = 0
        all_read.clear()
        started = time.process_time()
        for sent in range(1, frames + 1):
            protocol.dataReceived(data)
            if sent % 100 == 0:  # the application reads what waits
                await asyncio.sleep(0)
        await all_read.wait()
        costs.append((time.process_time() - started) / frames * 1e6)
    return costs


if __name__ == "__main__":
    main()
