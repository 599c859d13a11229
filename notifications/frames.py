"""The wire shapes of notification data (docs/protocol.md)."""

from datetime import datetime
from typing import Any

from realtime.wire import dumps, iso, user_dict

from .models import Notification


def notification_dict(notification: Notification) -> dict[str, Any]:
    """A notification object (select_related("actor") where there are many)."""
    data = {
        "id": notification.pk,
        "read": notification.read_at is not None,
        **_content(
            title=notification.title,
            body=notification.body,
            level=notification.level,
            url=notification.url,
            created_at=notification.created_at,
            kind=notification.kind,
            actor=notification.actor,
            count=notification.count,
            replaces=notification.replaces,
        ),
    }
    return data


def _content(
    *,
    title: str,
    body: str,
    level: str,
    url: str,
    created_at: datetime,
    kind: str,
    actor: Any,
    count: int,
    replaces: int | None,
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "title": title,
        "body": body,
        "level": level,
        "url": url,
        "created_at": iso(created_at),
        "kind": kind,
        "actor": user_dict(actor) if actor is not None else None,
        "count": count,
    }
    if replaces is not None:
        content["replaces"] = replaces
    return content


def content_text(
    *,
    title: str,
    body: str,
    level: str,
    url: str,
    created_at: datetime,
    kind: str,
    actor: Any = None,
    count: int = 1,
    replaces: int | None = None,
) -> str:
    """Serialize the fields every recipient of one batch shares, once; each
    socket adds its own `id` and `read` (notification_frame_text)."""
    return dumps(
        _content(
            title=title,
            body=body,
            level=level,
            url=url,
            created_at=created_at,
            kind=kind,
            actor=actor,
            count=count,
            replaces=replaces,
        )
    )


def notification_frame_text(*, notification_id: int, read: bool, content: str, unread: int) -> str:
    """Return the `notification` frame for one socket from the shared content text.

    Written out rather than encoded: a broadcast runs this once per socket, and
    a socket's own fields are two whole numbers and a flag (`wire.dumps` would
    write the same text, tests/notifications/test_frames.py checks it)."""
    own = f'{{"id":{int(notification_id)},"read":{"true" if read else "false"}'
    notification = f"{own}}}" if content == "{}" else f"{own},{content[1:]}"
    return f'{{"type":"notification","unread":{int(unread)},"notification":{notification}}}'
