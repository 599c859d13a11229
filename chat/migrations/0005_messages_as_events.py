"""Give every existing message its html and its room event (the `message`
frame, with its seq unchanged), so resume and catch_up find it like a new one.

The frame is built here with the fields a message had when this migration was
written: a migration must not follow later changes to chat.frames.
"""

from django.db import migrations
from django.db.models import Q

from chat import rendering
from realtime.wire import dumps, iso

BATCH = 500


def messages_as_events(apps, schema_editor):
    Message = apps.get_model("chat", "Message")
    RoomEvent = apps.get_model("chat", "RoomEvent")
    User = apps.get_model("auth", "User")

    def mentionable(names):
        wanted = Q()
        for name in names:
            wanted |= Q(username__iexact=name)
        return User.objects.filter(wanted, is_active=True).values_list("pk", "username")

    done_ids = RoomEvent.objects.values("message_id")
    pending = (
        Message.objects.exclude(pk__in=done_ids)
        .select_related("room", "author")
        .order_by("pk")
    )
    last = 0
    while True:
        batch = list(pending.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        events = []
        for message in batch:
            message.html = rendering.render_with_lookup(message.body, mentionable)
            frame = {
                "type": "message",
                "message": {
                    "id": message.pk,
                    "seq": message.seq,
                    "room": message.room.slug,
                    "author": {"id": message.author.pk, "username": message.author.username},
                    "body": message.body,
                    "created_at": iso(message.created_at),
                    "client_id": message.client_id,
                    "html": message.html,
                    "reply_to": None,
                    "edited_at": None,
                    "deleted": False,
                    "reactions": [],
                },
            }
            events.append(
                RoomEvent(
                    room_id=message.room_id,
                    seq=message.seq,
                    kind="message",
                    message_id=message.pk,
                    text=dumps(frame),
                )
            )
        Message.objects.bulk_update(batch, ["html"])
        RoomEvent.objects.bulk_create(events)
        last = batch[-1].pk


def events_removed(apps, schema_editor):
    apps.get_model("chat", "RoomEvent").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0004_room_events"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(messages_as_events, events_removed)]
