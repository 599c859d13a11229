"""The record of where notifications went: one Delivery row per channel attempt,
shown read-only in the admin."""

from collections.abc import Iterable

from .models import Delivery, Notification

BATCH_SIZE = 1000


def record(
    notifications: Iterable[Notification | int], *, channel: str, status: str, detail: str = ""
) -> list[Delivery]:
    """Record one delivery of `channel` with `status` for each notification (or id)."""
    if channel not in Delivery.Channel.values:
        raise ValueError(f"Unknown delivery channel {channel!r}.")
    if status not in Delivery.Status.values:
        raise ValueError(f"Unknown delivery status {status!r}.")
    rows = [
        Delivery(
            notification_id=item if isinstance(item, int) else item.pk,
            channel=channel,
            status=status,
            detail=detail,
        )
        for item in notifications
    ]
    return Delivery.objects.bulk_create(rows, batch_size=BATCH_SIZE)
