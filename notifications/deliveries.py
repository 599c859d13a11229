"""The record of where notifications went: one Delivery row per channel attempt,
shown read-only in the admin."""

from collections.abc import Iterable

from django.db import connection
from django.utils import timezone

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


def record_broadcast(broadcast_id: int, *, channel: str, status: str, detail: str = "") -> int:
    """Record one delivery of `channel` with `status` for every notification of
    a broadcast that has none of `channel` yet, in one INSERT … SELECT in the
    database; return how many."""
    if channel not in Delivery.Channel.values:
        raise ValueError(f"Unknown delivery channel {channel!r}.")
    if status not in Delivery.Status.values:
        raise ValueError(f"Unknown delivery status {status!r}.")
    quote = connection.ops.quote_name
    fields = {field.name: field for field in Delivery._meta.concrete_fields}
    notification = {field.name: field for field in Notification._meta.concrete_fields}
    names = ["notification", "channel", "status", "detail", "created_at"]
    columns = ", ".join(quote(fields[name].column) for name in names)
    created_at = fields["created_at"].get_db_prep_save(timezone.now(), connection)
    # Every name is Django's own (the models' tables and columns); every value a
    # parameter.
    deliveries, notifications = quote(Delivery._meta.db_table), quote(Notification._meta.db_table)
    notification_id = f"{notifications}.{quote(notification['id'].column)}"
    sql = (
        f"INSERT INTO {deliveries} ({columns}) "  # noqa: S608
        f"SELECT {notification_id}, %s, %s, %s, %s FROM {notifications} "
        f"WHERE {notifications}.{quote(notification['broadcast'].column)} = %s "
        # Run twice (a retried task), it adds nothing.
        f"AND NOT EXISTS (SELECT 1 FROM {deliveries} "
        f"WHERE {deliveries}.{quote(fields['notification'].column)} = {notification_id} "
        f"AND {deliveries}.{quote(fields['channel'].column)} = %s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [channel, status, detail, created_at, broadcast_id, channel])
        return cursor.rowcount
