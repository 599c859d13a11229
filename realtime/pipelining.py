"""Redis commands from every coroutine of an event loop, written together on one
connection per Redis server (auto-pipelining).

redis-py's asyncio client takes a connection from its pool for each command,
checks it, and gives it back after the reply. Those checks cost more CPU than
the command: in a standalone loop of a registry script (`ZSET_ADD_LUA`), 200-240
us of CPU per command with 50 asked for at once, against 45-50 us through a
queue; 340 against 145 us one at a time. A crowd joining a room asks Redis for
several things per socket (its count of sockets, its presence, a rate limit),
and every chat send asks for its rate limit.

A `CommandQueue` instead writes whatever its callers asked for since its last
write in one go, on one connection of its own, and hands each caller its reply
in order; while one round trip is on the wire, the next commands gather. An
entry's commands stay together on the wire, so `MULTI` ... `EXEC` keeps its
meaning (`transaction`).

A connection that fails mid-way (Redis restarted, the connection killed) is
dropped, and every entry not fully answered is sent once more on a new one,
whole. A command whose reply was lost may so run twice: the store's commands are
idempotent, or (a rate limit) count an attempt once more, as redis-py's own retry
did.

A round trip has one deadline, the connection's socket timeout, for its
connect, its write and all its replies: redis-py's own wraps each write in a
task (`wait_for`) and each reply in a timer, which were 6% of a worker's busy
samples while a crowd joined a room. A round trip past it fails as one that
lost its connection, with redis-py's TimeoutError.

Commands are packed by hiredis, whose parser redis-py already reads replies
with: redis-py's asyncio connection packs in Python, 11-16 us a script call
against about 3, and packing was 5% of a worker's busy samples while a crowd
joined a room.
"""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import hiredis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

Command = tuple[Any, ...]

# Failures of the connection itself (not of a command): the entry is sent again.
CONNECTION_ERRORS = (RedisConnectionError, RedisTimeoutError, OSError)
# Tries per entry: the first, and one on a new connection.
TRIES = 2


@dataclass
class _Entry:
    commands: Sequence[Command]
    future: asyncio.Future
    every_reply: bool  # the caller gets every reply, else only the last
    tries: int = 0


class CommandQueue:
    """Commands for one Redis server, pipelined across callers (see above)."""

    def __init__(self, connect: Callable[[], AbstractConnection]) -> None:
        # Makes a new connection, not yet connected: redis-py's connect on
        # first use (a Sentinel-managed one to the current master).
        self.connect = connect
        self._connection: AbstractConnection | None = None
        self._deadline: float | None = None  # seconds per round trip
        self._waiting: list[_Entry] = []
        self._writer: asyncio.Task[None] | None = None

    def call(self, *command: Any) -> "asyncio.Future[Any]":
        """Send `command`; the future has its reply (or raises its error)."""
        return self._add((command,), every_reply=False)

    def call_many(self, commands: Sequence[Command]) -> "asyncio.Future[list[Any]]":
        """Send `commands` together; the future has their replies, in order
        (or raises the first command error)."""
        return self._add(commands, every_reply=True)

    def transaction(self, commands: Sequence[Command]) -> "asyncio.Future[list[Any]]":
        """Run `commands` in MULTI ... EXEC; the future has EXEC's replies."""
        return self._add([("MULTI",), *commands, ("EXEC",)], every_reply=False)

    async def aclose(self) -> None:
        """Drop the connection, failing what is not answered yet."""
        writer = self._writer
        if writer is not None and not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        await self._disconnect()

    def _add(self, commands: Sequence[Command], *, every_reply: bool) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append(_Entry(commands, future, every_reply))
        if self._writer is None:
            # It starts at the loop's next turn: whatever else is asked for in
            # this one goes out in the same write.
            self._writer = loop.create_task(self._write_while_waiting())
        return future

    async def _write_while_waiting(self) -> None:
        try:
            while self._waiting:
                entries, self._waiting = self._waiting, []
                retry = await self._round_trip(entries)
                # Ahead of anything asked for meanwhile: a caller's entries keep their order.
                self._waiting[:0] = retry
        except BaseException as error:
            # Cancelled (aclose, the loop closing): nobody will answer these.
            stopped = RedisConnectionError(f"redis command queue stopped: {error!r}")
            for entry in self._waiting:
                _fail(entry, stopped)
            self._waiting = []
            raise
        finally:
            self._writer = None

    async def _round_trip(self, entries: list[_Entry]) -> list[_Entry]:
        """Write `entries` and answer each; return those to send again."""
        if self._connection is None:
            self._connection = self.connect()
            # The round trip's deadline instead of redis-py's per write and reply.
            self._deadline = self._connection.socket_timeout
            self._connection.socket_timeout = None
        connection = self._connection
        packed: list[bytes] = []
        sent: list[_Entry] = []
        for entry in entries:
            try:
                packed.extend(_pack(command) for command in entry.commands)
            except Exception as error:  # an argument Redis can't take (None, a lone surrogate)
                _fail(entry, error)
                continue
            sent.append(entry)
        answered = 0
        try:
            async with asyncio.timeout(self._deadline):
                if sent:
                    await connection.send_packed_command(packed)
                for entry in sent:
                    replies = [await _read_reply(connection) for _ in entry.commands]
                    answered += 1
                    _answer(entry, replies)
        except CONNECTION_ERRORS as error:
            if isinstance(error, TimeoutError):  # the deadline passed (asyncio's)
                error = RedisTimeoutError(f"no reply from Redis within {self._deadline} s")
            await self._disconnect()
            retry = []
            for entry in sent[answered:]:
                entry.tries += 1
                if entry.tries < TRIES:
                    retry.append(entry)
                else:
                    _fail(entry, error)
            return retry
        except BaseException as error:
            # Replies no longer match their commands on this connection.
            await self._disconnect()
            stopped = RedisConnectionError(f"redis command queue stopped: {error!r}")
            for entry in sent[answered:]:
                _fail(entry, stopped)
            raise
        return []

    async def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                await connection.disconnect()
            except Exception:
                logger.debug("closing a redis connection failed", exc_info=True)


def _pack(command: Command) -> bytes:
    """`command` in Redis' protocol; as redis-py's packing, it takes str,
    bytes, int and float arguments (not bool) and refuses others with a
    DataError."""
    try:
        return hiredis.pack_command(tuple(command))
    except TypeError as error:
        raise DataError(f"{error} (in {command[0]!r})") from error


async def _read_reply(connection: AbstractConnection) -> Any:
    try:
        return await connection.read_response()
    except ResponseError as error:
        return error  # one command's error: the connection reads on


def _answer(entry: _Entry, replies: list[Any]) -> None:
    if entry.future.done():
        return  # its caller went away
    if entry.every_reply:
        errors = [reply for reply in replies if isinstance(reply, ResponseError)]
        if errors:
            entry.future.set_exception(errors[0])
        else:
            entry.future.set_result(replies)
        return
    last = replies[-1]
    if isinstance(last, ResponseError):
        entry.future.set_exception(last)
    else:
        entry.future.set_result(last)


def _fail(entry: _Entry, error: BaseException) -> None:
    if not entry.future.done():
        entry.future.set_exception(error)


class LuaScript:
    """A Lua script, run by its SHA1 (loaded into Redis on first use)."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.sha = hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()


async def run_script(
    queue: CommandQueue, script: LuaScript, keys: Sequence[Any], args: Sequence[Any]
) -> Any:
    """Run `script` with `keys` and `args`: by its SHA1, or by its body the
    first time a Redis sees it (a new or restarted one, its scripts flushed)."""
    try:
        return await queue.call("EVALSHA", script.sha, len(keys), *keys, *args)
    except NoScriptError:
        return await queue.call("EVAL", script.body, len(keys), *keys, *args)
