"""The wire shapes of notification data (docs/protocol.md)."""

from datetime import datetime
from typing import Any

from realtime.wire import dumps, iso, prepend_fields, with_encoded

from .models import Notification


def notification_dict(notification: Notification) -> dict[str, Any]:
    return {
        "id": notification.pk,
        "title": notification.title,
        "body": notification.body,
        "level": notification.level,
        "url": notification.url,
        "created_at": iso(notification.created_at),
        "read": notification.read_at is not None,
    }


def content_text(*, title: str, body: str, level: str, url: str, created_at: datetime) -> str:
    """Serialize the fields every recipient of one batch shares, once; each
    socket adds its own `id` and `read` (notification_frame_text)."""
    return dumps(
        {"title": title, "body": body, "level": level, "url": url, "created_at": iso(created_at)}
    )


def notification_frame_text(*, notification_id: int, read: bool, content: str, unread: int) -> str:
    """Return the `notification` frame for one socket from the shared content text."""
    notification = prepend_fields({"id": notification_id, "read": read}, content)
    return with_encoded({"type": "notification", "unread": unread}, notification=notification)
