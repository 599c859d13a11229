"""chat/migrations/0005: existing messages become room events, seq unchanged."""

import json

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)


def test_existing_messages_become_events_with_html(alice, bob):
    executor = MigrationExecutor(connection)
    executor.migrate([("chat", "0004_room_events")])
    apps = executor.loader.project_state([("chat", "0004_room_events")]).apps
    Room = apps.get_model("chat", "Room")
    Message = apps.get_model("chat", "Message")
    room = Room.objects.create(slug="old", name="Old", last_seq=2)
    for seq, body in ((1, "**hi** @bob"), (2, "<script>x</script>")):
        Message.objects.create(
            room=room, seq=seq, author_id=alice.pk, body=body, client_id=f"c{seq}"
        )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from chat.models import Message as Current
    from chat.models import RoomEvent

    events = list(RoomEvent.objects.filter(room_id=room.pk).order_by("seq"))
    assert [(e.seq, e.kind) for e in events] == [(1, "message"), (2, "message")]
    first = json.loads(events[0].text)["message"]
    assert first["seq"] == 1 and first["body"] == "**hi** @bob"
    assert first["html"] == Current.objects.get(seq=1, room_id=room.pk).html
    assert f'data-user-id="{bob.pk}"' in first["html"] and "<strong>hi</strong>" in first["html"]
    assert "&lt;script&gt;" in json.loads(events[1].text)["message"]["html"]
