"""How every socket writes the wire contract (docs/protocol.md): JSON text,
times, users, close codes, and JSON encoded once and embedded in many frames."""

import json
from datetime import UTC, datetime
from typing import Any


class Close:
    """The contract's close codes (plain ints: autobahn refuses an IntEnum)."""

    GOING_AWAY = 1001  # a worker stopping: reconnect elsewhere and resume
    NOT_LOGGED_IN = 4401
    FORBIDDEN = 4403
    NOT_FOUND = 4404
    IDLE = 4408  # also: a socket too far behind to catch up live
    TOO_LARGE = 4413
    FLOODING = 4429  # also: over the cap of open sockets per user
    UNAVAILABLE = 4503  # live delivery can't be set up now (Redis away): retry


# The largest seq or id a client may name (a PostgreSQL bigint).
ID_MAX = 2**63 - 1


def dumps(frame: dict[str, Any] | list[Any]) -> str:
    """Return `frame` (or a list embedded in frames) as compact JSON text, non-ASCII as is."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def iso(moment: datetime) -> str:
    """Return a time as the contract writes it: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_dict(user: Any) -> dict[str, Any]:
    return user_fields(user.pk, user.get_username())


def user_fields(user_id: int, username: str) -> dict[str, Any]:
    """The user object of the contract, from a row read without the model."""
    return {"id": user_id, "username": username}


def with_encoded(frame: dict[str, Any], **encoded: str) -> str:
    """Return `frame` as JSON text with each of `encoded` (JSON text already,
    e.g. a list of messages encoded once for a crowd) added as a field."""
    text = dumps(frame)
    if not encoded:
        return text
    extra = ",".join(f"{json.dumps(key)}:{value}" for key, value in encoded.items())
    return f"{text[:-1]},{extra}}}" if len(text) > 2 else f"{{{extra}}}"
