"""The indexes of the tables every stored message writes (chat/migrations/0011):
none that another one covers, and the lookups that need one still find it."""

import re

import pytest
from django.db import connection, transaction

from chat import services
from chat.models import Membership, Message, RoomEvent

pytestmark = pytest.mark.django_db

TABLES = (Message, RoomEvent, Membership)


def _indexes(table: str) -> dict[str, list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    return {
        name: about["columns"]
        for name, about in constraints.items()
        if (about["index"] or about["unique"]) and not about["primary_key"]
    }


@pytest.mark.parametrize("model", TABLES, ids=lambda model: model.__name__)
def test_no_index_is_covered_by_another(model):
    # A stored message writes every index of its rows: one whose columns lead
    # another's only costs that write (finding rows by the room is done by the
    # room's unique keys).
    indexes = _indexes(model._meta.db_table)
    for name, columns in indexes.items():
        for other, longer in indexes.items():
            if other != name and longer[: len(columns)] == columns:
                raise AssertionError(f"{name} {columns} is covered by {other} {longer}")


def _plan(queryset) -> str:
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # The test's tables are tiny: asked whether an index can serve,
            # not whether a scan would be cheaper.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


def test_the_lookups_of_a_messages_rows_use_an_index(public_room, alice, bob):
    first = services.message_create(room=public_room, author=alice, body="hi", client_id="c-1")
    services.message_create(
        room=public_room, author=bob, body="re", client_id="c-2", reply_to=first.message.pk
    )
    # (the table, the index that must serve, or None for any of the room's)
    lookups = [
        # Replies to a message (a deletion hides their excerpt; SET NULL).
        ("chat_message", "message_reply_to", Message.objects.filter(reply_to=first.message.pk)),
        # A deleted user's deletions (SET NULL).
        (
            "chat_message",
            "message_deleted_by",
            Message.objects.filter(deleted_by__in=[alice.pk, bob.pk]),
        ),
        # A room's history, events and members.
        ("chat_message", None, Message.objects.filter(room=public_room).order_by("seq")),
        ("chat_roomevent", None, RoomEvent.objects.filter(room=public_room, seq__gt=1)),
        ("chat_membership", None, Membership.objects.filter(room=public_room)),
    ]
    for table, index, queryset in lookups:
        plan = _plan(queryset.order_by() if index else queryset)
        if connection.vendor == "postgresql":
            assert f"Seq Scan on {table}" not in plan and "Index" in plan, plan
        else:
            assert f"SCAN {table}" not in plan and "USING INDEX" in plan, plan
        # By name: an index of the whole column would serve too, at a write per message.
        assert re.search(rf"\b{index or 'room_id'}\b", plan), plan
