"""The wire shapes of notification data (docs/protocol.md)."""

from datetime import UTC, datetime

from realtime.consumers import dumps

from .models import Notification


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notification_dict(notification: Notification) -> dict:
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
    """Serialize the fields every recipient of one batch shares, once.

    Consumers splice in `id` and `read` (see `notification_frame_text`) instead of
    serializing the notification again per socket.
    """
    return dumps(
        {"title": title, "body": body, "level": level, "url": url, "created_at": iso(created_at)}
    )


def notification_frame_text(*, notification_id: int, read: bool, content: str, unread: int) -> str:
    """Return the `notification` frame for one socket from the shared content text."""
    head = f'{{"id":{int(notification_id)},"read":{"true" if read else "false"},'
    return f'{{"type":"notification","notification":{head}{content[1:]},"unread":{int(unread)}}}'
