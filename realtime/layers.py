"""channels-redis' pubsub layer, with group events handed straight to the
consumers of this process, and a signal when subscriptions are live again after
Redis was away.

Fan-out. The stock layer gives every local member of a group its own copy of
the serialized event in its own queue; each consumer then wakes its task,
decodes the same msgpack again, and Channels starts a new task for its next
receive. For one room message to 2,000 local sockets that is 2,000 decodes and
4,000 task switches. Here the event is decoded once per process and handed to
each consumer that registered a direct handler (`DirectDelivery.deliver`, realtime.delivery).
A direct handler is a plain function: the receive loop cannot wait on it, so one
slow socket can't hold up the others (the consumer runs anything that waits in
its own task). Consumers that did not register get the stock behaviour.

Resubscription. redis-py reconnects a pub/sub connection by itself, inside a
read, and re-sends SUBSCRIBE for every channel; nothing tells the application,
and whatever was published meanwhile is gone. "Redis answers a ping" is not "my
subscriptions are back": a catch-up read from the database done between the two
misses what is published in between. So each shard watches its own connection:
on every reconnect it sends a PING on the same connection, after redis-py's
SUBSCRIBE; Redis answers in order, so when that PONG arrives every channel is
subscribed again, and only then are the listeners told (realtime.recovery makes
the affected sockets catch up from the database). Anything committed before
that moment is in their read; anything published after it arrives live.

This leans on channels-redis 4.3's pubsub internals (`RedisPubSubLoopLayer`,
its `_shards`, `groups` and `channels`; `RedisSingleShardConnection` and its
`_pubsub`, `_subscribed_to`, `_lock`), on redis-py's connect callbacks and on
its hiredis parser's reader (`_FanoutShard._take_parsed`); the versions are
pinned, and tests/realtime/test_canaries.py fails if they change.
"""

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close
from redis._parsers.hiredis import NOT_ENOUGH_DATA, _AsyncHiredisParser
from redis.asyncio.connection import AbstractConnection

from . import metrics
from .pipelining import CommandQueue

logger = logging.getLogger(__name__)

# Called from the layer's receive loop with the decoded event; must not block.
DirectHandler = Callable[[dict], None]
# The same, with several events of one group, in order; must not block.
DirectManyHandler = Callable[[list[dict]], None]

# A message holding several events of one group (group_send_many: the events of
# a batch of sends in one room, a burst), taken apart on the receiving side: each
# local socket of the group gets them in one call (DirectManyHandler), and writes
# their frames with one send() instead of one per event (realtime.delivery).
EVENTS = "realtime.events"
# Called with the channel names of this process's consumers whose
# subscriptions were just confirmed again after a reconnect.
ResubscribedListener = Callable[[set[str]], None]

RESUBSCRIBED_TOKEN = b"relay-resubscribed:"
# How often each shard looks for subscriptions no local consumer wants.
ORPHAN_SWEEP_SECONDS = 30


class _FanoutShard(RedisSingleShardConnection):
    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._watched_connection = None
        self._reconnects = 0
        self._awaiting_pong: bytes | None = None
        self._connection_lost = False
        # publish_many's, on a connection of its own (realtime.pipelining).
        self._publishing = CommandQueue(self._publishing_connection)
        # Channels asked for and not subscribed yet, each with its answer, and
        # the task that subscribes them (subscribe).
        self._to_subscribe: dict[str, asyncio.Future[None]] = {}
        self._subscribing: asyncio.Task | None = None

    async def subscribe(self, channel) -> None:
        """Subscribe `channel`, with every channel asked for meanwhile, in one
        SUBSCRIBE.

        The stock shard sends one SUBSCRIBE per channel, one at a time under
        its lock: a crowd joining (each socket subscribes its user's group)
        made that a round of redis-py's command handling per socket, about
        70 us of a worker's CPU each. Here the channels asked for while one
        SUBSCRIBE is on its way go together in the next. Each caller still
        returns only once its channel is subscribed, and has the error if the
        SUBSCRIBE failed; subscriptions and unsubscriptions keep the order
        the shard's lock gives them."""
        answer = self._to_subscribe.get(channel)
        if answer is None:
            answer = asyncio.get_running_loop().create_future()
            self._to_subscribe[channel] = answer
            if self._subscribing is None or self._subscribing.done():
                self._subscribing = asyncio.ensure_future(self._subscribe_waiting())
        # A caller that goes away leaves the others theirs.
        await asyncio.shield(answer)

    async def _subscribe_waiting(self) -> None:
        while self._to_subscribe:
            async with self._lock:
                waiting, self._to_subscribe = self._to_subscribe, {}
                layer = self.channel_layer
                # Wanted still (group_add and new_channel record the name
                # first): one dropped meanwhile would be an orphan.
                new = [
                    name
                    for name in waiting
                    if name not in self._subscribed_to
                    and (name in layer.groups or name in layer.channels)
                ]
                try:
                    if new:
                        self._ensure_redis()
                        self._ensure_receiver()
                        await self._pubsub.subscribe(*new)
                        self._subscribed_to.update(new)
                except asyncio.CancelledError:
                    for answer in waiting.values():
                        answer.cancel()
                    raise
                except Exception as error:
                    for answer in waiting.values():
                        if not answer.done():
                            answer.set_exception(error)
                    continue
                for answer in waiting.values():
                    if not answer.done():
                        answer.set_result(None)

    async def _do_receiving(self):
        next_sweep = time.monotonic() + ORPHAN_SWEEP_SECONDS
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    self._watch_reconnects()
                    if time.monotonic() >= next_sweep:
                        next_sweep = time.monotonic() + ORPHAN_SWEEP_SECONDS
                        await self._drop_orphans()
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=0.1
                    )
                    if message is not None:
                        await self._take(message)
                        await self._take_parsed()
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception:
                # Redis away: the next read reconnects and resubscribes, and
                # the PONG after that tells the listeners (_on_reconnect).
                if not self._connection_lost:
                    self._connection_lost = True
                    logger.warning(
                        "channel layer lost redis at %s: live delivery paused, sockets stay open",
                        self.host.get("address", "?") if isinstance(self.host, dict) else "?",
                        exc_info=True,
                    )
                await asyncio.sleep(0.5)

    async def _take(self, message: dict) -> None:
        if message["type"] == "pong":
            await self._on_pong(message["data"])
        else:
            self.channel_layer.deliver(message)

    async def _take_parsed(self) -> None:
        """Take every reply the connection has read and parsed already.

        A socket read usually brings several messages (the other worker's
        batch of sends is one write of PUBLISHes). redis-py's get_message
        wraps each one in a health check, a retry policy, an asyncio timeout
        and a pub/sub metrics hook: at 1,000 chat sends/s that wrapping was
        13.8% of the workers' busy samples (`--gil` py-spy). So, once a message
        came that way, the messages parsed behind it are taken from the
        hiredis reader as they are; anything else (a subscription's
        confirmation, a PONG, an error) goes through redis-py's own handling,
        in the same order. Nothing here reads the socket: when the parsed
        replies run out, the next get_message waits for more."""
        pubsub = self._pubsub
        if pubsub is None or (connection := pubsub.connection) is None:
            return
        parser = connection._parser
        # redis-py's pure-Python parser (hiredis not installed) keeps no such reader.
        if not isinstance(parser, _AsyncHiredisParser) or parser._reader is None:
            return
        reader = parser._reader
        handlers = pubsub.channels
        deliver = self.channel_layer.deliver
        while (reply := reader.gets()) is not NOT_ENOUGH_DATA:
            if (
                type(reply) is list
                and len(reply) == 3
                and reply[0] == b"message"
                and handlers.get(reply[1]) is None
            ):
                deliver({"type": "message", "pattern": None, "channel": reply[1], "data": reply[2]})
                continue
            if isinstance(reply, Exception):
                raise reply
            if isinstance(reply, list) and reply and isinstance(reply[0], Exception):
                raise reply[0]
            if connection.health_check_interval and reply in pubsub.health_check_response:
                continue
            message = await pubsub.handle_message(reply, ignore_subscribe_messages=True)
            if message is not None:
                await self._take(message)

    async def publish(self, channel, message) -> None:
        await self.publish_many([(channel, message)])

    async def publish_many(self, publishes: list[tuple[str, bytes]]) -> None:
        """PUBLISH each (channel, payload), in order, in one write with whatever
        else this worker publishes to the shard meanwhile.

        On a connection of the shard's own rather than one taken from the
        pool and given back each time: the pool's checks of a connection it
        hands out cost redis-py about as much CPU as the publishes (measured:
        152 against 75 us for two). A publish whose connection dropped (Redis
        restarted) is sent once more on a new one; a copy seen twice is
        dropped by seq."""
        await self._publishing.call_many(
            [("PUBLISH", channel, payload) for channel, payload in publishes]
        )

    def _publishing_connection(self) -> AbstractConnection:
        self._ensure_redis()
        return self._redis.connection_pool.make_connection()

    async def flush(self) -> None:
        await super().flush()
        await self._publishing.aclose()

    def _watch_reconnects(self) -> None:
        connection = self._pubsub.connection
        if connection is not None and connection is not self._watched_connection:
            # After PubSub's own callback, which re-sends SUBSCRIBE: callbacks
            # run in the order they were registered.
            connection.register_connect_callback(self._on_reconnect)
            self._watched_connection = connection

    async def _on_reconnect(self, connection) -> None:
        self._reconnects += 1
        token = RESUBSCRIBED_TOKEN + str(self._reconnects).encode()
        self._awaiting_pong = token
        await connection.send_command("PING", token, check_health=False)

    async def _on_pong(self, data) -> None:
        if data != self._awaiting_pong:
            return  # an older reconnect's, or redis-py's own health check
        self._awaiting_pong = None
        self._connection_lost = False
        await self._drop_orphans()
        confirmed = set(self._subscribed_to)
        logger.warning("channel layer subscriptions are live again (%d)", len(confirmed))
        self.channel_layer.resubscribed(confirmed)

    async def _drop_orphans(self) -> None:
        """Unsubscribe what no local consumer wants any more.

        channels-redis unsubscribes a consumer's channel only when its receive()
        is cancelled, and its own bookkeeping can miss a SUBSCRIBE that a
        cancellation interrupted; an unsubscribe that failed while Redis was
        away is even re-sent by redis-py on reconnect. Each leaves a Redis
        subscription, found here by asking what is subscribed and wanted.
        """
        layer = self.channel_layer
        subscribed = set(self._subscribed_to)
        if self._pubsub is not None:
            subscribed.update(
                name.decode() if isinstance(name, bytes) else name for name in self._pubsub.channels
            )
        orphans = [n for n in subscribed if n not in layer.groups and n not in layer.channels]
        for name in orphans:
            try:
                async with self._lock:
                    # Wanted again meanwhile: group_add and new_channel record
                    # the name before they subscribe.
                    if name in layer.groups or name in layer.channels:
                        continue
                    await self._pubsub.unsubscribe(name)
                    self._subscribed_to.discard(name)
            except Exception:
                logger.warning("unsubscribe of orphan %s failed", name, exc_info=True)
        if orphans:
            logger.info("channel layer dropped %d subscriptions nobody wanted", len(orphans))


class _FanoutLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards: list[_FanoutShard] = [
            _FanoutShard(shard.host, self) for shard in self._shards
        ]
        self.direct: dict[str, DirectHandler] = {}
        self.direct_many: dict[str, DirectManyHandler] = {}
        # Group channel -> its members split once into direct handlers and
        # queued channels (_members), instead of once per event: for a room
        # of 2,000 local sockets that is 2,000 lookups less per message.
        # Dropped whenever a membership or a handler changes. With the
        # per-class forwarders (realtime.delivery), the Python part of a
        # delivery to 2,000 sockets in one process went from 4.1-4.8 to
        # 3.5-4.1 us (the socket's send() itself not counted).
        self._prepared: dict[str, _Members] = {}

    def register_direct(
        self, channel: str, handler: DirectHandler, many: DirectManyHandler | None = None
    ) -> None:
        """Deliver the events of `channel`'s groups by calling `handler` (and
        `many` with several events of one group, if given)."""
        self.direct[channel] = handler
        if many is not None:
            self.direct_many[channel] = many
        self._prepared.clear()

    async def group_add(self, group, channel):
        """Add a channel to a group; a direct consumer's channel need not be
        subscribed in Redis (nothing is sent to it: realtime.transport), only
        known here by its handler."""
        self._prepared.clear()
        if channel in self.channels or channel not in self.direct:
            await super().group_add(group, channel)
            return
        group_channel = self._get_group_channel_name(group)
        self.groups.setdefault(group_channel, set()).add(channel)
        await self._get_shard(group_channel).subscribe(group_channel)

    async def group_discard(self, group, channel):
        # The membership changes before the first await of the stock method.
        self._prepared.clear()
        await super().group_discard(group, channel)

    async def flush(self):
        self._prepared.clear()
        await super().flush()

    async def group_send_many(self, messages: Sequence[tuple[str, dict]]) -> None:
        """Send each (group, event), in order per group, with one round trip
        per shard: a batch of sends in many rooms is two events per message
        (the room's and its members' room lists), and each trip of its own
        cost redis-py more than the publish."""
        by_shard: dict[_FanoutShard, list[tuple[str, bytes]]] = {}
        for group, events in runs(messages):
            channel = self._get_group_channel_name(group)
            shard = self._get_shard(channel)
            message = events[0] if len(events) == 1 else {"type": EVENTS, "events": events}
            by_shard.setdefault(shard, []).append((channel, self.channel_layer.serialize(message)))
        for shard, publishes in by_shard.items():
            await shard.publish_many(publishes)

    async def forget_channel(self, channel: str) -> None:
        """Drop a consumer's own channel, whatever ended the consumer.

        channels-redis does it only when the consumer's receive() is cancelled
        while waiting: not when the consumer was cancelled before it got there.
        """
        self.direct.pop(channel, None)
        self.direct_many.pop(channel, None)
        self.channels.pop(channel, None)
        self._prepared.clear()
        # A no-op when the channel is not subscribed any more.
        await self._get_shard(channel).unsubscribe(channel)

    def resubscribed(self, names: set[str]) -> None:
        """Tell the listeners which local channels are live again."""
        local: set[str] = set()
        for name in names:
            members = self.groups.get(name)
            if members is not None:
                local.update(members)
            elif name in self.channels:
                local.add(name)
        metrics.here(metrics.layer_reconnects).inc()
        for listener in list(self.channel_layer.resubscribed_listeners):
            try:
                listener(local)
            except Exception:
                logger.exception("resubscription listener failed")

    def deliver(self, message: dict) -> None:
        name = message["channel"]
        if isinstance(name, bytes):
            name = name.decode()
        data = message["data"]
        prepared = self._prepared.get(name)
        if prepared is None:
            members = self.groups.get(name)
            if members is None:
                queue = self.channels.get(name)
                if queue is not None:
                    queue.put_nowait(data)
                return
            prepared = self._prepared[name] = self._members(members)
        event = None
        for channel in prepared.queued:
            # A queued consumer's channel goes when its receive() is cancelled.
            queue = self.channels.get(channel)
            if queue is None:
                continue
            if event is None:
                event = self.channel_layer.deserialize(data)
            if event["type"] == EVENTS:
                for one in event["events"]:
                    queue.put_nowait(self.channel_layer.serialize(one))
            else:
                queue.put_nowait(data)
        if prepared.direct:
            if event is None:
                event = self.channel_layer.deserialize(data)
            if event["type"] == EVENTS:
                hand_over_many(prepared.direct_many, event["events"])
            else:
                hand_over(prepared.direct, event)

    def _members(self, members: set[str]) -> "_Members":
        """Split a group's members into direct handlers and queued channels."""
        direct: list[DirectHandler] = []
        direct_many: list[DirectManyHandler] = []
        queued: list[str] = []
        for channel in members:
            handler = self.direct.get(channel)
            if handler is not None:
                direct.append(handler)
                direct_many.append(self.direct_many.get(channel) or _one_by_one(handler))
            else:
                queued.append(channel)
        return _Members(tuple(direct), tuple(direct_many), tuple(queued))


@dataclass(frozen=True)
class _Members:
    """A group's local members: direct handlers (each also as one for several
    events, in the same order) and queued channels."""

    direct: tuple[DirectHandler, ...]
    direct_many: tuple[DirectManyHandler, ...]
    queued: tuple[str, ...]


def _one_by_one(handler: DirectHandler) -> DirectManyHandler:
    def many(events: list[dict]) -> None:
        for event in events:
            handler(event)

    return many


def runs(messages: Sequence[tuple[str, dict]]) -> list[tuple[str, list[dict]]]:
    """Group each run of consecutive messages to the same group, in order (the
    order across groups stays the order they were given in)."""
    grouped: list[tuple[str, list[dict]]] = []
    for group, message in messages:
        if grouped and grouped[-1][0] == group:
            grouped[-1][1].append(message)
        else:
            grouped.append((group, [message]))
    return grouped


def hand_over(handlers: Sequence[DirectHandler], event: dict) -> None:
    """Give one decoded event to every local consumer that takes it directly."""
    delivered = 0
    for handler in handlers:
        try:
            handler(event)
            delivered += 1
        except Exception:
            # One socket's failure must not stop the others' delivery.
            logger.exception("direct delivery of %s failed", event.get("type"))
    _count(event, delivered)


def hand_over_many(handlers: Sequence[DirectManyHandler], events: list[dict]) -> None:
    """Give several decoded events of one group, in order, to every local
    consumer that takes them directly."""
    delivered = 0
    for handler in handlers:
        try:
            handler(events)
            delivered += 1
        except Exception:
            logger.exception("direct delivery of %d events failed", len(events))
    for event in events:
        _count(event, delivered)


def _count(event: dict, delivered: int) -> None:
    # Once per event, not per socket: a metric write costs as much as a frame.
    metrics.here_summed(metrics.events_delivered, event["type"]).inc(delivered)
    if "sent_at" in event:
        metrics.here(metrics.delivery_seconds, event["type"]).observe(
            time.time() - event["sent_at"]
        )


class LocalFanoutChannelLayer(RedisPubSubChannelLayer):
    """RedisPubSubChannelLayer that calls registered local consumers directly
    and says when its subscriptions are live again after an outage."""

    # Its events reach sockets through Redis, whichever loop sends them
    # (realtime.push sends those of plain sync code from a loop of its own).
    reachable_from_any_loop = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.resubscribed_listeners: list[ResubscribedListener] = []

    async def close_loop_layer(self) -> None:
        """Close the running loop's connections of this layer, which is no
        longer used from it."""
        layer = self._layers.pop(asyncio.get_running_loop(), None)
        if layer is not None:
            await layer.flush()

    def add_resubscribed_listener(self, listener: ResubscribedListener) -> None:
        if listener not in self.resubscribed_listeners:
            self.resubscribed_listeners.append(listener)

    async def group_send_many(self, messages: Sequence[tuple[str, dict]]) -> None:
        await self._get_layer().group_send_many(messages)

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        layer = self._layers.get(loop)
        if layer is None:
            layer = self._layers[loop] = _FanoutLoopLayer(
                *self._args, **self._kwargs, channel_layer=self
            )
            # As the stock layer does: flush when the loop closes.
            _wrap_close(self, loop)
        return layer


class InProcessChannelLayer(InMemoryChannelLayer):
    """Channels' in-memory layer (one process, no Redis: development without
    REDIS_URL) with the same direct delivery as LocalFanoutChannelLayer, so a
    socket takes the path it takes in production."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.direct: dict[str, DirectHandler] = {}
        self.direct_many: dict[str, DirectManyHandler] = {}

    def register_direct(
        self, channel: str, handler: DirectHandler, many: DirectManyHandler | None = None
    ) -> None:
        self.direct[channel] = handler
        if many is not None:
            self.direct_many[channel] = many

    def add_resubscribed_listener(self, listener: ResubscribedListener) -> None:
        """Nothing to hear: memory never loses a subscription."""

    async def forget_channel(self, channel: str) -> None:
        self.direct.pop(channel, None)
        self.direct_many.pop(channel, None)
        self.channels.pop(channel, None)
        self._remove_from_groups(channel)  # type: ignore[attr-defined]  # a canary checks it

    async def group_send(self, group: str, message: dict) -> None:
        await self._group_send_run(group, [message])

    async def group_send_many(self, messages: Sequence[tuple[str, dict]]) -> None:
        for group, events in runs(messages):
            await self._group_send_run(group, events)

    async def _group_send_run(self, group: str, events: list[dict]) -> None:
        """Send `events` to `group`, in order: each direct consumer gets them
        in one call, as from LocalFanoutChannelLayer."""
        self.require_valid_group_name(group)
        self._clean_expired()  # type: ignore[attr-defined]  # a canary checks it
        direct: list[DirectHandler] = []
        direct_many: list[DirectManyHandler] = []
        for channel in list(self.groups.get(group, {})):
            handler = self.direct.get(channel)
            if handler is not None:
                direct.append(handler)
                direct_many.append(self.direct_many.get(channel) or _one_by_one(handler))
                continue
            for event in events:
                with contextlib.suppress(ChannelFull):
                    await self.send(channel, event)
        if not direct:
            return
        # A copy, as Redis would hand over: consumers never share the sender's dict.
        if len(events) == 1:
            hand_over(direct, copy.deepcopy(events[0]))
        else:
            hand_over_many(direct_many, copy.deepcopy(events))
