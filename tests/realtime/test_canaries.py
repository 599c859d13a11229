"""Canaries: every private name of Twisted, autobahn, Daphne, channels-redis and
asgiref the speed tricks rely on, in one table. When an upgrade renames or reshapes
one, its test fails naming it and the code that relies on it; the versions are
pinned in requirements.txt until the trick is checked against the new release.

To add a name: one row in PRIVATE_NAMES. Names set on instances are looked up on
real objects (`real_objects`), built over real sockets and a real Redis. Daphne's
`Server.connections` and `Server.http_factory` exist only while the server runs: the
multi-process tests (graceful 1001 shutdown, slow reader, slow headers) cover them.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import socket
import textwrap
from dataclasses import dataclass

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer
from twisted.internet import tcp
from twisted.internet.testing import MemoryReactor
from twisted.web import http

FASTSEND = "realtime.fastsend (each socket's own send path, frames framed once per worker)"
EAGER_WRITE = "realtime.fastsend.write_eagerly (writes without waiting a reactor turn)"
SLOW_READER = "realtime.worker.unsent_bytes (drops clients that stop reading)"
GRACEFUL = "realtime.worker.GracefulServer (1001 on shutdown)"
FANOUT = "realtime.layers (group events decoded once per worker)"
SHARDS = "realtime.store (keys on the layer's shard)"
RESUBSCRIBED = "realtime.layers (catch-up only once subscriptions are live again)"
HEADER_DEADLINE = "realtime.header_deadline (a deadline on request headers: slowloris)"
IN_PROCESS = "realtime.layers.InProcessChannelLayer (development without Redis)"
HANDOVER = (
    "realtime.handover (an upgraded connection frees its HTTP request; a closed one is "
    "freed without the cyclic collector)"
)
INBOX = "realtime.worker.GracefulServer.create_application (realtime.inbox: a socket's messages)"
SETTLED = "realtime.settled.settle_factory (options read from the class, not copied per socket)"
DIRECT_GROUPS = "realtime.layers.group_add (sockets without a channel subscription of their own)"
PUBLISH_MANY = "realtime.layers.group_send_many (a batch's events in one trip per shard)"
INCOMING = "realtime.incoming (a client's usual frames read without autobahn's machinery)"
PARSED = "realtime.layers._FanoutShard._take_parsed (the messages a read brought, as parsed)"
SYNC_PUSH = "realtime.push._awaited_by_a_loop (sync code's pushes: its loop, or the push loop)"
SUBSCRIBE_TOGETHER = (
    "realtime.layers._FanoutShard.subscribe (channels asked for together, one SUBSCRIBE)"
)
DB_BRIDGE = "realtime.db.in_database_thread (database calls without sync_to_async's copy-back)"


@dataclass(frozen=True)
class Private:
    """A name the code relies on. `owner` is a dotted module or class path, or
    with `on` the attribute is looked up on that real object (`real_objects`).
    `params`: the parameters it must start with; `keywords`: others it must take."""

    owner: str
    name: str
    used_by: str
    params: tuple[str, ...] | None = None
    keywords: tuple[str, ...] = ()
    on: str | None = None

    @property
    def label(self) -> str:
        return f"{self.on or self.owner}.{self.name}"


PRIVATE_NAMES = [
    # Twisted
    Private("twisted.internet.abstract.FileDescriptor", "write", EAGER_WRITE, ("self", "data")),
    Private("twisted.internet.tcp", "Server", EAGER_WRITE),
    *(
        Private("", name, EAGER_WRITE, on="twisted tcp connection")
        for name in ("socket", "connected", "disconnecting", "_writeDisconnected")
    ),
    *(
        Private("", name, f"{EAGER_WRITE}, {SLOW_READER}", on="twisted tcp connection")
        for name in ("_tempDataLen", "dataBuffer", "offset")
    ),
    Private("", "producer", HANDOVER, on="twisted tcp connection"),
    Private("", "requests", HANDOVER, on="twisted http channel"),
    *(
        Private("twisted.web.http.HTTPChannel", name, HEADER_DEADLINE, params)
        for name, params in (
            ("connectionMade", ("self",)),
            ("allHeadersReceived", ("self",)),
            ("requestDone", ("self", "request")),
            ("connectionLost", ("self", "reason")),
            ("timeoutConnection", ("self",)),
            ("callLater", ("self", "period", "func")),
            ("persistent", None),
        )
    ),
    Private("twisted.web.http.HTTPFactory", "protocol", HEADER_DEADLINE),
    Private("twisted.web.http.HTTPFactory", "timeOut", HEADER_DEADLINE),
    Private("twisted.web.http", "H2_ENABLED", HEADER_DEADLINE),
    # autobahn
    Private("autobahn.websocket.protocol.WebSocketProtocol", "STATE_OPEN", FASTSEND),
    Private(
        "autobahn.websocket.protocol.WebSocketProtocol",
        "sendMessage",
        FASTSEND,
        ("self", "payload", "isBinary"),
    ),
    Private(
        "autobahn.websocket.protocol.WebSocketProtocol", "_dataReceived", INCOMING, ("self", "data")
    ),
    Private("autobahn.websocket.protocol.WebSocketProtocol", "STATE_CLOSED", HANDOVER),
    Private("", "is_closed", HANDOVER, on="autobahn protocol"),
    Private(
        "autobahn.websocket.protocol.WebSocketProtocol",
        "sendCloseFrame",
        GRACEFUL,
        ("self", "code", "reasonUtf8"),
    ),
    *(
        Private("", name, FASTSEND, on="autobahn protocol")
        for name in ("_perMessageCompress", "send_queue", "state", "transport")
    ),
    # What realtime.incoming reads of a protocol (those set at the handshake:
    # tests/realtime/test_incoming.py).
    *(
        Private("", name, INCOMING, on="autobahn protocol")
        for name in (
            "data",
            "autoPingTimeoutCall",
            "maxFramePayloadSize",
            "maxMessagePayloadSize",
            "trafficStats",
            "logOctets",
            "logFrames",
            "trackedTimings",
            "_listeners",
            "utf8validateIncoming",
            "applyMask",
            "requireMaskedClientFrames",
        )
    ),
    # Daphne
    Private(
        "daphne.server.Server",
        "handle_reply",
        f"{FASTSEND}, {HEADER_DEADLINE}",
        ("self", "protocol", "message"),
    ),
    Private("daphne.http_protocol.HTTPFactory", "buildProtocol", HEADER_DEADLINE, ("self", "addr")),
    Private("daphne.server.Server", "listen_success", GRACEFUL, ("self", "port")),
    Private("daphne.server.Server", "timeout_checker", SLOW_READER, ("self",)),
    Private("daphne.server.Server", "create_application", INBOX, ("self", "protocol", "scope")),
    Private("daphne.ws_protocol.WebSocketFactory", "protocol", SETTLED),
    Private("daphne.ws_protocol.WebSocketProtocol", "CONFIG_ATTRS", SETTLED),
    Private(
        "daphne.server.Server",
        "__init__",
        GRACEFUL,
        ("self", "application"),
        keywords=(
            "endpoints",
            "signal_handlers",
            "websocket_handshake_timeout",
            "proxy_forwarded_address_header",
            "proxy_forwarded_port_header",
            "proxy_forwarded_proto_header",
        ),
    ),
    # asgiref: the loop waiting on a thread is on this thread-local's main_event_loop
    # and main_event_loop_pid, set only inside such a thread (tests/realtime/test_push.py
    # fails when they are gone).
    Private("asgiref.sync.SyncToAsync", "threadlocal", SYNC_PUSH),
    # realtime.db sets them itself in its database threads, and moves the
    # calling task's Local data to the thread as sync_to_async does
    # (tests/realtime/test_db.py: a call sees the task's language, async_to_sync
    # inside runs on the caller's loop).
    Private("asgiref.sync.SyncToAsync", "threadlocal", DB_BRIDGE),
    Private("asgiref.sync", "_restore_context", DB_BRIDGE, ("context",)),
    # Channels
    Private("channels.layers.InMemoryChannelLayer", "_clean_expired", IN_PROCESS, ("self",)),
    Private(
        "channels.layers.InMemoryChannelLayer",
        "_remove_from_groups",
        IN_PROCESS,
        ("self", "channel"),
    ),
    # channels-redis
    Private(
        "channels_redis.pubsub.RedisPubSubLoopLayer",
        "__init__",
        FANOUT,
        ("self", "hosts", "prefix", "on_disconnect", "on_reconnect", "channel_layer"),
    ),
    Private("channels_redis.pubsub.RedisPubSubChannelLayer", "_get_layer", FANOUT, ("self",)),
    Private(
        "channels_redis.pubsub.RedisPubSubLoopLayer",
        "_get_group_channel_name",
        DIRECT_GROUPS,
        ("self", "group"),
    ),
    Private(
        "channels_redis.pubsub.RedisPubSubLoopLayer",
        "_get_shard",
        DIRECT_GROUPS,
        ("self", "channel_or_group_name"),
    ),
    Private(
        "channels_redis.pubsub.RedisPubSubLoopLayer",
        "group_add",
        DIRECT_GROUPS,
        ("self", "group", "channel"),
    ),
    *(
        Private("", name, FANOUT, on="channels-redis channel layer")
        for name in ("_layers", "_args", "_kwargs")
    ),
    *(
        Private("", name, FANOUT, on="channels-redis loop layer")
        for name in ("_shards", "groups", "channels", "channel_layer")
    ),
    Private(
        "channels_redis.pubsub.RedisSingleShardConnection",
        "__init__",
        FANOUT,
        ("self", "host", "channel_layer"),
    ),
    Private("channels_redis.pubsub.RedisSingleShardConnection", "_do_receiving", FANOUT, ("self",)),
    *(
        Private("", name, FANOUT, on="channels-redis shard connection")
        for name in ("_pubsub", "host", "channel_layer")
    ),
    Private("", "_subscribed_to", RESUBSCRIBED, on="channels-redis shard connection"),
    Private(
        "channels_redis.pubsub.RedisSingleShardConnection", "_ensure_redis", PUBLISH_MANY, ("self",)
    ),
    *(
        Private("", name, PUBLISH_MANY, on="channels-redis shard connection")
        for name in ("_lock", "_redis")
    ),
    Private(
        "channels_redis.pubsub.RedisSingleShardConnection",
        "unsubscribe",
        RESUBSCRIBED,
        ("self", "channel"),
    ),
    Private(
        "channels_redis.pubsub.RedisSingleShardConnection",
        "subscribe",
        SUBSCRIBE_TOGETHER,
        ("self", "channel"),
    ),
    Private(
        "channels_redis.pubsub.RedisSingleShardConnection",
        "_ensure_receiver",
        SUBSCRIBE_TOGETHER,
        ("self",),
    ),
    # redis-py: PubSub re-sends SUBSCRIBE from its connect callback, registered
    # on the connection before ours (so ours runs after it).
    Private("redis.asyncio.client.PubSub", "on_connect", RESUBSCRIBED, ("self", "connection")),
    Private("", "connection", RESUBSCRIBED, on="redis-py pubsub"),
    Private(
        "redis.asyncio.connection.AbstractConnection",
        "register_connect_callback",
        RESUBSCRIBED,
        ("self", "callback"),
    ),
    Private("channels_redis.utils", "_wrap_close", FANOUT, ("proxy", "loop")),
    Private("channels_redis.utils", "_consistent_hash", SHARDS, ("value", "ring_size")),
    # redis-py's hiredis parser, read as get_message would, message by message.
    Private("redis._parsers.hiredis", "NOT_ENOUGH_DATA", PARSED),
    Private("redis._parsers.hiredis", "_AsyncHiredisParser", PARSED),
    Private("", "_parser", PARSED, on="redis-py pubsub connection"),
    Private("", "_reader", PARSED, on="redis-py hiredis parser"),
    Private("", "health_check_interval", PARSED, on="redis-py pubsub connection"),
    *(
        Private("", name, PARSED, on="redis-py pubsub")
        for name in ("channels", "health_check_response")
    ),
    Private(
        "redis.asyncio.client.PubSub",
        "handle_message",
        PARSED,
        ("self", "response", "ignore_subscribe_messages"),
    ),
]


def resolve(dotted: str):
    """Import `package.module.Class` (or a module) from its dotted path."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            found = getattr(found, name)
        return found
    raise ModuleNotFoundError(dotted)


@pytest.fixture
async def real_objects(redis_url, daphne_protocol):
    """The objects whose instance attributes the code reads, made for real."""
    ours, theirs = socket.socketpair()
    connection = tcp.Connection(ours, None, MemoryReactor())
    channel_layer = RedisPubSubChannelLayer(hosts=[redis_url])
    # A subscribed channel: the shard's pubsub connection to Redis is open.
    await channel_layer.new_channel()
    loop_layer = channel_layer._get_layer()
    yield {
        "twisted tcp connection": connection,
        "twisted http channel": http.HTTPChannel(),
        "autobahn protocol": daphne_protocol,
        "channels-redis channel layer": channel_layer,
        "channels-redis loop layer": loop_layer,
        "channels-redis shard connection": loop_layer._shards[0],
        "redis-py pubsub": loop_layer._shards[0]._pubsub,
        "redis-py pubsub connection": loop_layer._shards[0]._pubsub.connection,
        "redis-py hiredis parser": loop_layer._shards[0]._pubsub.connection._parser,
    }
    await loop_layer.flush()
    ours.close()
    theirs.close()


@pytest.mark.parametrize("private", PRIVATE_NAMES, ids=lambda private: private.label)
async def test_private_name_is_still_there(private, real_objects):
    changed = f"{private.label} changed; {private.used_by} relies on it"
    changed += " (pinned in requirements.txt)"
    owner = real_objects[private.on] if private.on else resolve(private.owner)
    assert hasattr(owner, private.name), f"{changed}: it is gone"
    if private.params is None:
        return
    found = tuple(inspect.signature(getattr(owner, private.name)).parameters)
    assert found[: len(private.params)] == private.params, (
        f"{changed}: its parameters are now {found}, expected {private.params} first"
    )
    missing = [name for name in private.keywords if name not in found]
    assert not missing, f"{changed}: it no longer takes {missing}"


def test_the_store_puts_a_key_on_the_shard_the_layer_uses():
    from channels_redis.pubsub import RedisPubSubLoopLayer

    from realtime.store import RedisStore

    hosts = [f"redis://127.0.0.1:{port}/0" for port in (1, 2, 3)]
    store = RedisStore(hosts)
    layer = RedisPubSubLoopLayer(hosts=hosts)
    for key in ("presence.room.1", "online.room.42", "sockets.user.7", "asgi__group__room.9"):
        shard = store.clients.index(store._shard(key))
        assert layer._shards[shard] is layer._get_shard(key), (
            f"channels_redis.utils._consistent_hash no longer matches the layer's shard "
            f"choice for {key!r}; realtime.store relies on it"
        )


def test_every_name_the_fast_send_path_checks_has_a_canary():
    from realtime import fastsend

    watched = {(p.on, p.name) for p in PRIVATE_NAMES}
    missing = [
        name
        for on, names in (
            ("autobahn protocol", fastsend.PROTOCOL_NAMES),
            ("twisted tcp connection", fastsend.CONNECTION_NAMES),
        )
        for name in names
        if (on, name) not in watched
        and ("", name) not in watched
        and not any(p.name == name and p.owner.startswith("autobahn") for p in PRIVATE_NAMES)
    ]
    assert not missing, f"realtime.fastsend relies on {missing}: add them to PRIVATE_NAMES"


def test_autobahn_reading_does_nothing_but_log_and_parse():
    """realtime.incoming skips autobahn's dataReceived for its _dataReceived: that
    is only sound while the method does nothing else."""
    from autobahn.twisted.websocket import WebSocketAdapterProtocol

    source = textwrap.dedent(inspect.getsource(WebSocketAdapterProtocol.dataReceived))
    body = ast.parse(source).body[0].body
    calls = [
        ast.unparse(statement.value.func) for statement in body if isinstance(statement, ast.Expr)
    ]
    assert calls == ["self.log.debug", "self._dataReceived"] and len(body) == 2, (
        f"autobahn's WebSocketAdapterProtocol.dataReceived changed ({calls}); {INCOMING} "
        "relies on it doing nothing but a debug line and self._dataReceived(data) "
        "(pinned in requirements.txt)"
    )
