"""Events that end sockets when their login ends; the only senders of `realtime.*`."""

from .groups import session_group, user_group
from .push import send_on_commit

SESSION_ENDED = "realtime.session_ended"


def session_ended(session_key: str) -> None:
    """Close the sockets of one login session (logout)."""
    send_on_commit(session_group(session_key), {"type": SESSION_ENDED})


def user_sessions_ended(user_id: int) -> None:
    """Close every socket of a user (password change, deactivation, deletion)."""
    send_on_commit(user_group(user_id), {"type": SESSION_ENDED})
