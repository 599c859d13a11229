"""channels-redis' pubsub layer, with group events handed straight to the
consumers of this process.

The stock layer gives every local member of a group its own copy of the
serialized event in its own queue; each consumer then wakes its task, decodes
the same msgpack again, and Channels starts a new task for its next receive.
For one room message to 2,000 local sockets that is 2,000 decodes and 4,000
task switches. Here the event is decoded once per process and each consumer
that registered a direct handler (`RealtimeConsumer`) is called in turn; its
handler only forwards text that was serialized once (chat.events). Consumers
that did not register get the stock behaviour.

This leans on channels-redis 4.3's pubsub internals (`RedisPubSubLoopLayer`,
its `_shards`, `groups` and `channels`); the version is pinned, and
tests/realtime/test_layers.py fails if they change.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from channels_redis.pubsub import (
    RedisPubSubChannelLayer,
    RedisPubSubLoopLayer,
    RedisSingleShardConnection,
)
from channels_redis.utils import _wrap_close

from . import metrics

logger = logging.getLogger(__name__)

DirectHandler = Callable[[dict], Awaitable[None]]


class _FanoutShard(RedisSingleShardConnection):
    async def _do_receiving(self):
        while True:
            try:
                if self._pubsub and self._pubsub.subscribed:
                    message = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=0.1
                    )
                    if message is not None:
                        await self.channel_layer.deliver(message)
                else:
                    await asyncio.sleep(0.1)
            except (asyncio.CancelledError, GeneratorExit):
                raise
            except Exception:
                # Redis away: redis-py reconnects and resubscribes on the next
                # read; realtime.recovery resyncs what was missed.
                logger.warning("channel layer receive failed; retrying", exc_info=True)
                await asyncio.sleep(1)


class _FanoutLoopLayer(RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [_FanoutShard(shard.host, self) for shard in self._shards]
        self.direct: dict[str, DirectHandler] = {}

    def register_direct(self, channel: str, handler: DirectHandler) -> None:
        self.direct[channel] = handler

    def unregister_direct(self, channel: str) -> None:
        self.direct.pop(channel, None)

    async def deliver(self, message: dict) -> None:
        name = message["channel"]
        if isinstance(name, bytes):
            name = name.decode()
        data = message["data"]
        members = self.groups.get(name)
        if members is None:
            queue = self.channels.get(name)
            if queue is not None:
                queue.put_nowait(data)
            return
        event = None
        delivered = 0
        for channel in list(members):
            handler = self.direct.get(channel)
            if handler is None:
                queue = self.channels.get(channel)
                if queue is not None:
                    queue.put_nowait(data)
                continue
            if event is None:
                event = self.channel_layer.deserialize(data)
            try:
                await handler(event)
                delivered += 1
            except Exception:
                # One socket's failure must not stop the others' delivery.
                logger.exception("direct delivery to %s failed", channel)
        if event is not None:
            # Once per event, not per socket: a metric write costs as much as a frame.
            metrics.events_delivered.labels(event["type"], metrics.WORKER).inc(delivered)
            if "sent_at" in event:
                metrics.delivery_seconds.labels(event["type"], metrics.WORKER).observe(
                    time.time() - event["sent_at"]
                )


class LocalFanoutChannelLayer(RedisPubSubChannelLayer):
    """RedisPubSubChannelLayer that calls registered local consumers directly."""

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
