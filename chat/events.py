"""The only place chat events are built and sent to the channel layer.

Every push of stored data happens after the transaction commits, so nobody
hears of a message that a rollback took back.
"""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from realtime.consumers import dumps

from . import frames
from .models import Message


def room_group(room_id: int) -> str:
    return f"chat.room.{room_id}"


def _group_send_on_commit(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        # robust: a channel-layer failure must not fail the request that stored
        # the data; clients recover what they missed by seq and resume.
        transaction.on_commit(lambda: async_to_sync(layer.group_send)(group, event), robust=True)


def message_created(message: Message) -> None:
    """Deliver a stored message to every socket in its room, after commit."""
    _group_send_on_commit(
        room_group(message.room_id),
        {"type": "chat.message", "text": frames.message_frame_text(message, message.room.slug)},
    )


def access_revoked(*, room_id: int, user_id: int) -> None:
    """Close the user's sockets in the room (removed from a private room), after commit."""
    _group_send_on_commit(room_group(room_id), {"type": "chat.access_revoked", "user_id": user_id})


async def typing(*, room_id: int, user, sender_channel: str) -> None:
    frame = dumps({"type": "typing", "user": frames.user_dict(user)})
    await get_channel_layer().group_send(
        room_group(room_id), {"type": "chat.typing", "text": frame, "sender": sender_channel}
    )


async def presence_changed(*, room_id: int, online: list[dict]) -> None:
    frame = dumps({"type": "presence", "online": online})
    await get_channel_layer().group_send(
        room_group(room_id), {"type": "chat.presence", "text": frame}
    )
