"""Channel-layer group names shared by every socket kind (Channels' limit: 100
ASCII letters, digits, hyphens, underscores or periods)."""

import hashlib


def user_group(user_id: int) -> str:
    """Every socket of one user, on any worker."""
    return f"user.{user_id}"


def session_tag(session_key: str) -> str:
    """A login session's name in events to its user's group (hashed: never put
    a session key in Redis)."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32]
