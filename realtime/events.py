"""Events that end sockets when their login ends, and that regroup a user's own
stream; the only senders of `realtime.*`."""

from .groups import session_group, user_group
from .push import send_on_commit

SESSION_ENDED = "realtime.session_ended"
STREAM_GROUPS_CHANGED = "realtime.stream_groups_changed"

# Events in a group a user's stream joined through realtime.signals.user_stream_groups:
# {"type": STREAM_FRAME, "group": <the group>, "text": <a frame, encoded once>},
# forwarded as is; {"type": STREAM_REVOKED, "group": ..., "user_id": N} or
# {..., "keep": [sorted user ids]}: the streams of that user, or of everyone not
# kept, leave the group at once.
STREAM_FRAME = "stream.frame"
STREAM_REVOKED = "stream.revoked"


def session_ended(session_key: str) -> None:
    """Close the sockets of one login session (logout)."""
    send_on_commit(session_group(session_key), {"type": SESSION_ENDED})


def user_sessions_ended(user_id: int) -> None:
    """Close every socket of a user (password change, deactivation, deletion)."""
    send_on_commit(user_group(user_id), {"type": SESSION_ENDED})


def stream_groups_changed(user_id: int) -> None:
    """Make the user's own streams ask again which extra groups they join, after commit."""
    send_on_commit(user_group(user_id), {"type": STREAM_GROUPS_CHANGED})
