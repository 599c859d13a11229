"""Group commit: the writes of every socket of a process, stored together.

A socket that writes (a chat send) hands its write to the process's `Batcher`
and waits for its outcome, or reads its next frame meanwhile (`enqueue`). One
writer at a time per process takes every write waiting, in the order they came,
and runs them through `handler` in one call, in the writer's own database
thread, which keeps its connection: a transaction, a lock and a commit for the
lot instead of one each. While a batch is being stored the next one gathers,
so under load batches grow by themselves, and when the process is idle a write
goes alone, at once.

Between those two, writes coming steadily but each finding the writer idle
would go in batches of one or two, and a batch costs far more than the writes
in it: its transaction, its lock, the hops between the loop and the writer's
thread, and code that runs every few milliseconds with other work in between
runs at half to a quarter of the speed it runs back to back (the processor's
caches and predictions are cold: `python -m bench.writes --pause 10`, a lone
send stored after 10 ms of quiet, cost the writer's thread 0.7-1.6 ms of CPU,
back to back 0.38-0.44 ms). So when the first write of a batch came within
`linger` s of the one before it (writes are coming steadily), the batch
gathers what arrives until `linger` s after that first write's arrival, as
PostgreSQL's commit_delay waits only when other transactions are under way. A
write after a quiet spell goes at once, and so does a batch whose first write
has waited that long already (a backlog) or that is full.

The pushes a batch makes after its commits can be held (`holding`:
realtime.push.holding, through the app's events module) and sent from the
event loop in one trip to the channel layer, before its writers are answered.

`handler(items)` returns one outcome per item, in order: a result, or the
exception that refused or failed that item alone; the waiting socket gets the
result or has the exception raised. An exception out of `handler` itself fails
the whole batch.
"""

import asyncio
import logging
import weakref
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, Protocol, TypeVar

from .db import DatabaseThreads, in_database_thread

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class HeldPushes(Protocol):
    """What a batch held back to push once it is back in its loop
    (realtime.push.Held, through the app's events module)."""

    async def send_from_loop(self) -> None: ...


class _NothingHeld:
    async def send_from_loop(self) -> None:
        return None


# A handler's pushes: held while it runs in the writer's thread (`holding`,
# the app's events module's), or sent as it makes them (none given).
Holding = Callable[[], AbstractContextManager[HeldPushes]]


class _Write(NamedTuple, Generic[T, R]):
    item: T
    future: "asyncio.Future[R]"
    arrived: float  # the loop's time
    steady: bool  # it came within `linger` of the write before it


@dataclass
class _Queue(Generic[T, R]):
    """What waits in one event loop, and the task writing it."""

    waiting: list[_Write[T, R]] = field(default_factory=list)
    task: asyncio.Task | None = None
    last_arrival: float = float("-inf")
    # While the writer gathers a batch: done when the batch is full.
    gathering: asyncio.Future[None] | None = None


class Batcher(Generic[T, R]):
    """Run `handler` over the items submitted from one event loop, a batch at a
    time, at most `max_items` a batch, in one dedicated thread."""

    def __init__(
        self,
        handler: Callable[[list[T]], Sequence[R | Exception]],
        *,
        name: str,
        max_items: int = 500,
        linger: float = 0.0,
        holding: Holding | None = None,
    ) -> None:
        self.handler = handler
        self.holding: Holding = holding or (lambda: nullcontext(_NothingHeld()))
        self.name = name
        self.max_items = max_items
        self.linger = linger  # seconds; see the module's docstring
        # One thread: its database connection stays open between batches (a
        # pooled one while batches keep coming) and two batches of a process
        # never overlap.
        self.executor = DatabaseThreads(1, name=name)
        self._run_batch = in_database_thread(self._store, self.executor)
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Queue[T, R]] = (
            weakref.WeakKeyDictionary()
        )
        self.batches = 0  # batches stored by this process, and their items
        self.items = 0

    async def submit(self, item: T) -> R:
        """Store `item` with whatever else is waiting; return its outcome."""
        # shield: a socket that goes away while its write is stored does not
        # cancel the batch; its outcome is dropped.
        return await asyncio.shield(self.enqueue(item))

    def enqueue(self, item: T) -> "asyncio.Future[R]":
        """Queue `item` behind those waiting and return the future of its
        outcome, without waiting: a socket can queue its next write while this
        one is stored, and the process's writes keep the order they came in."""
        loop = asyncio.get_running_loop()
        queue = self._queues.get(loop)
        if queue is None:
            queue = self._queues[loop] = _Queue()
        future: asyncio.Future[R] = loop.create_future()
        # An outcome nobody waits for any more (its socket closed) is no error
        # to log: a refusal is an answer, and a failed batch is logged by _write.
        future.add_done_callback(_seen)
        now = loop.time()
        queue.waiting.append(_Write(item, future, now, now - queue.last_arrival < self.linger))
        queue.last_arrival = now
        if queue.gathering is not None and len(queue.waiting) >= self.max_items:
            _set_done(queue.gathering)
        if queue.task is None or queue.task.done():
            queue.task = loop.create_task(self._write(queue), name=f"{self.name} writer")
        return future

    async def _write(self, queue: _Queue[T, R]) -> None:
        while queue.waiting:
            batch: list[_Write[T, R]] = []
            try:
                await self._gather(queue)
                batch = queue.waiting[: self.max_items]
                del queue.waiting[: self.max_items]
                outcomes, held = await self._run_batch([write.item for write in batch])
                # What the batch committed goes to the layer from this loop
                # (a hop from the writer's thread to it and back costs about
                # as much CPU as the batch's queries), before anyone is
                # answered: an answer says whether the room heard it.
                await held.send_from_loop()
                if isinstance(outcomes, Exception):
                    raise outcomes
                if len(outcomes) != len(batch):
                    raise RuntimeError(f"{self.name}: {len(outcomes)} outcomes for {len(batch)}")
            except asyncio.CancelledError:
                # The loop is going away: nobody is left to answer.
                for write in batch + queue.waiting:
                    write.future.cancel()
                queue.waiting.clear()
                raise
            except Exception as error:
                logger.exception("%s: a batch of %d failed", self.name, len(batch))
                for write in batch:
                    if not write.future.done():
                        write.future.set_exception(error)
                continue
            for write, outcome in zip(batch, outcomes, strict=True):
                if write.future.done():
                    continue
                if isinstance(outcome, Exception):
                    write.future.set_exception(outcome)
                else:
                    write.future.set_result(outcome)

    async def _gather(self, queue: _Queue[T, R]) -> None:
        """If the batch's first write came while writes were coming steadily,
        let the batch gather until `linger` s after its arrival, or until it
        is full."""
        first = queue.waiting[0]
        if not first.steady or len(queue.waiting) >= self.max_items:
            return
        loop = asyncio.get_running_loop()
        wait = first.arrived + self.linger - loop.time()
        if wait <= 0:
            return
        queue.gathering = loop.create_future()
        timer = loop.call_later(wait, _set_done, queue.gathering)
        try:
            await queue.gathering
        finally:
            timer.cancel()
            queue.gathering = None

    def _store(self, items: list[T]) -> tuple[Sequence[R | Exception] | Exception, HeldPushes]:
        """Run the handler in the writer's thread; its outcomes (or what it
        raised) and the pushes it held, for the loop to send."""
        with self.holding() as held:
            try:
                outcomes = self.handler(items)
            except Exception as error:
                # What committed before it raised is still pushed.
                return error, held
        self.batches += 1
        self.items += len(items)
        return outcomes, held


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _seen(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
