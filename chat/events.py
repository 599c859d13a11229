"""The only place chat events are built and sent to the channel layer.

Every push of stored data happens after the transaction commits, so nobody
hears of a message that a rollback took back. A push that fails (Redis away)
loses nothing: the data is stored, and sockets catch up by seq.
"""

import logging
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from realtime import metrics
from realtime.consumers import dumps

from . import frames, selectors
from .models import Message

logger = logging.getLogger(__name__)


def room_group(room_id: int) -> str:
    return f"chat.room.{room_id}"


def _push(group: str, event: dict) -> bool:
    """Send from sync code; return whether the layer took it."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(group, event)
    except Exception:
        metrics.layer_send_failures.labels(metrics.WORKER).inc()
        logger.warning("push to %s failed; sockets catch up by seq", group, exc_info=True)
        return False
    return True


async def _apush(group: str, event: dict) -> None:
    try:
        await get_channel_layer().group_send(group, event)
    except Exception:
        metrics.layer_send_failures.labels(metrics.WORKER).inc()
        logger.warning("push to %s failed", group, exc_info=True)


def message_created(message: Message) -> None:
    """Deliver a stored message to every socket in its room, after commit.

    Sets `message.pushed` once the commit ran, so the sender can be answered
    directly when the layer could not take it.
    """
    event = {
        "type": "chat.message",
        "seq": message.seq,
        "text": frames.message_frame_text(message, message.room.slug),
    }

    def push() -> None:
        event["sent_at"] = time.time()  # for the delivery latency metric
        message.pushed = _push(room_group(message.room_id), event)

    transaction.on_commit(push)


ACCESS_REVOKED = "chat.access_revoked"
ROOM_DELETED = "chat.room_deleted"


def access_revoked(*, room_id: int, user_id: int) -> None:
    """After commit, close the user's sockets in the room if their membership was
    what let them read it (a membership deleted by any path)."""

    def push() -> None:
        # Decided on the committed state: a rollback, a re-add or the room made
        # public in the same transaction leaves the sockets open.
        if selectors.lost_access(room_id=room_id, user_id=user_id):
            _push(room_group(room_id), {"type": ACCESS_REVOKED, "user_id": user_id})

    transaction.on_commit(push, robust=True)


def members_only(*, room_id: int) -> None:
    """After commit, close every socket in the room of someone who is not a member,
    if the room is not public (anymore).

    The event carries the members (sorted ids): each consumer decides without a
    database read, which would otherwise be one per socket in the room.
    """

    def push() -> None:
        keep = selectors.readers_if_members_only(room_id=room_id)
        if keep is not None:
            _push(room_group(room_id), {"type": ACCESS_REVOKED, "keep": keep})

    transaction.on_commit(push, robust=True)


def room_deleted(*, room_id: int) -> None:
    """After commit, close every socket in the room with 4404 (no such room)."""
    transaction.on_commit(lambda: _push(room_group(room_id), {"type": ROOM_DELETED}))


async def typing(*, room_id: int, user, sender_channel: str) -> None:
    frame = dumps({"type": "typing", "user": frames.user_dict(user)})
    await _apush(
        room_group(room_id), {"type": "chat.typing", "text": frame, "sender": sender_channel}
    )


async def presence_changed(*, room_id: int, online: list[dict], count: int) -> None:
    frame = dumps({"type": "presence", "online": online, "online_count": count})
    await _apush(room_group(room_id), {"type": "chat.presence", "text": frame})
