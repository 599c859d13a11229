"""Events that end sockets when their login ends; the only senders of `realtime.*`."""

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .groups import session_group, user_group

SESSION_ENDED = "realtime.session_ended"


def _send_on_commit(group: str, event: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        # robust: a channel-layer failure must not fail the request that stored
        # the data; clients recover what they missed by seq and resume.
        transaction.on_commit(lambda: async_to_sync(layer.group_send)(group, event), robust=True)


def session_ended(session_key: str) -> None:
    """Close the sockets of one login session (logout)."""
    _send_on_commit(session_group(session_key), {"type": SESSION_ENDED})


def user_sessions_ended(user_id: int) -> None:
    """Close every socket of a user (password change, deactivation, deletion)."""
    _send_on_commit(user_group(user_id), {"type": SESSION_ENDED})
