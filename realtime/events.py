"""Events that end sockets when their login ends; the only senders of `realtime.*`."""

from .groups import session_tag, user_group
from .push import send_on_commit

SESSION_ENDED = "realtime.session_ended"


def session_ended(session_key: str, user_id: int | None) -> None:
    """Close the sockets of one login session of `user_id` (logout). They hear
    it in their user's group, the session named: a group of each session's own
    would cost every socket one more subscription. A session of no user
    (`user_id` None) has no sockets: they all need a login."""
    if user_id is None:
        return
    event = {"type": SESSION_ENDED, "session": session_tag(session_key)}
    send_on_commit(user_group(user_id), event)


def user_sessions_ended(user_id: int) -> None:
    """Close every socket of a user (password change, deactivation, deletion)."""
    send_on_commit(user_group(user_id), {"type": SESSION_ENDED})
