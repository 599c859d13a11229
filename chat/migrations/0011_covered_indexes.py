"""Fewer indexes written per stored message.

Foreign keys get an index each by default. Those on a room are covered by a
unique index that starts with the room (a message's and a room event's
`(room, seq)`, a membership's `(room, user)`), and a message's `reply_to` and
`deleted_by` are nearly always empty: their indexes now hold only the rows that
have one. A lone send on SQLite wrote 22.0 pages of the write-ahead log, now
17.8 (python -m bench.writes).

The old indexes are dropped by name, not by altering the fields: on SQLite an
altered field makes Django rebuild chat_message, which would drop its search
triggers (0007_message_search) and copy every message. Building the two partial
indexes reads chat_message once; PostgreSQL holds its writes meanwhile.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# Django's names for the foreign keys' indexes (0001_initial, 0004_room_events),
# the same on SQLite and PostgreSQL.
DROPPED = {
    "chat_membership_room_id_15d30f85": ("chat_membership", "room_id"),
    "chat_message_room_id_5e7d8d78": ("chat_message", "room_id"),
    "chat_message_reply_to_id_afede338": ("chat_message", "reply_to_id"),
    "chat_message_deleted_by_id_84f8bbc9": ("chat_message", "deleted_by_id"),
    "chat_roomevent_room_id_0ca33044": ("chat_roomevent", "room_id"),
}


def foreign_key(**options):
    return models.ForeignKey(db_index=False, **options)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0010_verbose_names"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # The partial indexes first: a lookup never finds none.
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("reply_to__isnull", False)),
                fields=["reply_to"],
                name="message_reply_to",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("deleted_by__isnull", False)),
                fields=["deleted_by"],
                name="message_deleted_by",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    [f'DROP INDEX IF EXISTS "{name}"' for name in DROPPED],
                    [
                        f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ("{column}")'
                        for name, (table, column) in DROPPED.items()
                    ],
                )
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="membership",
                    name="room",
                    field=foreign_key(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="memberships",
                        to="chat.room",
                        verbose_name="room",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="deleted_by",
                    field=foreign_key(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="deleted by",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="reply_to",
                    field=foreign_key(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="replies",
                        to="chat.message",
                        verbose_name="reply to",
                    ),
                ),
                migrations.AlterField(
                    model_name="message",
                    name="room",
                    field=foreign_key(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="messages",
                        to="chat.room",
                        verbose_name="room",
                    ),
                ),
                migrations.AlterField(
                    model_name="roomevent",
                    name="room",
                    field=foreign_key(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="chat.room",
                        verbose_name="room",
                    ),
                ),
            ],
        ),
    ]
