"""Property test: no client frame, however malformed, crashes the room socket,
reaches an internal handler, or stores anything it should not."""

import json

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chat.models import Message

pytestmark = pytest.mark.django_db(transaction=True)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)
frame_types = st.sampled_from(
    [
        "send",
        "history",
        "typing",
        "read",
        "ping",
        "chat.message",
        "chat.access_revoked",
        "realtime.session_ended",
        "websocket.disconnect",
        "",
        "SEND",
    ]
)
objects = st.fixed_dictionaries(
    {"type": frame_types | json_values},
    optional={
        "body": json_values,
        "client_id": json_values,
        "before_seq": json_values,
        "limit": json_values,
        "seq": json_values,
    },
)
texts = st.one_of(objects.map(json.dumps), json_values.map(json.dumps), st.text(max_size=200))
payloads = st.one_of(
    texts.map(lambda t: ("text", t)), st.binary(max_size=200).map(lambda b: ("bytes", b))
)

ALLOWED_REPLIES = {"error", "message", "history", "pong", "typing", "presence"}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(payload=payloads)
@example(payload=("text", '{"type": "send", "body": "hi", "client_id": "c-1"}'))
@example(payload=("text", '{"type": "chat.message", "text": "{\\"type\\": \\"message\\"}"}'))
@example(payload=("text", '{"type": "ping"}'))
@example(payload=("bytes", b"\xff\xfe"))
def test_any_frame_gets_a_contract_reply_and_the_socket_survives(
    connect_ws_sync, public_room, alice, payload
):
    kind, data = payload
    before = Message.objects.count()

    async def scenario():
        communicator, _ = await connect_ws_sync(public_room, alice)
        # send_input, not send_to: the test helper refuses empty frames, a client may not.
        await communicator.send_input({"type": "websocket.receive", kind: data})
        await communicator.send_json_to({"type": "ping"})
        # Our ping's pong comes last: every reply to the payload arrives before it.
        pongs_expected = 2 if kind == "text" and _is_ping(data) else 1
        replies = []
        while sum(frame["type"] == "pong" for frame in replies) < pongs_expected:
            output = await communicator.receive_output(timeout=5)
            assert output["type"] == "websocket.send", output  # never closed
            replies.append(json.loads(output["text"]))
        await communicator.disconnect()
        return replies

    replies = async_to_sync(scenario)()
    assert {frame["type"] for frame in replies} <= ALLOWED_REPLIES
    stored = Message.objects.count() - before
    valid_send = kind == "text" and _is_valid_send(data)
    assert stored == (1 if valid_send else 0)


def _parsed(data):
    try:
        return json.loads(data)
    except ValueError:
        return None


def _is_ping(data) -> bool:
    frame = _parsed(data)
    return isinstance(frame, dict) and frame.get("type") == "ping"


def _is_valid_send(data) -> bool:
    frame = _parsed(data)
    if not isinstance(frame, dict) or frame.get("type") != "send":
        return False
    body, client_id = frame.get("body"), frame.get("client_id")
    return (
        isinstance(body, str)
        and 0 < len(body.strip()) <= 4000
        and isinstance(client_id, str)
        and 1 <= len(client_id) <= 64
    )


@pytest.fixture
def connect_ws_sync():
    """Open and say hello on a fresh socket per example (hypothesis runs many)."""
    from channels.layers import channel_layers
    from channels.testing import WebsocketCommunicator
    from django.test import Client

    from config.asgi import application

    cookies = {}

    async def connect(room, user):
        channel_layers.backends = {}  # each example runs in its own event loop
        if user.pk not in cookies:
            from channels.db import database_sync_to_async

            client = Client()
            await database_sync_to_async(client.force_login)(user)
            cookies[user.pk] = client.cookies["sessionid"].value
        communicator = WebsocketCommunicator(
            application,
            f"/ws/chat/{room.slug}/",
            headers=[
                (b"host", b"testserver"),
                (b"origin", b"http://testserver"),
                (b"cookie", f"sessionid={cookies[user.pk]}".encode()),
            ],
        )
        connected, _ = await communicator.connect(timeout=5)
        assert connected
        hello = await communicator.receive_json_from(timeout=5)
        assert hello["type"] == "hello"
        return communicator, hello

    return connect


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.CHAT_SEND_RATE_LIMIT = "0"
