"""What chat causes in notifications, through its signals: replies, reactions,
direct messages (not while the room is open), grouping, room levels, nobody
notified of their own action, and reading a room reads its notifications."""

from datetime import timedelta

import pytest
from django.utils import timezone

from chat import services as chat
from chat.models import Membership
from harness.sockets import assert_silent, db, open_room, receive
from notifications import receivers, services
from notifications.models import Delivery, Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(alice, bob, carol):
    room = chat.room_create(name="General", created_by=alice)
    for user in (bob, carol):
        Membership.objects.create(room=room, user=user)
    return room


@pytest.fixture
def committing(django_capture_on_commit_callbacks):
    """Run what chat sends after commit, as a real commit would."""

    def run(action, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return action(**kwargs)

    return run


def post(committing, room, author, body, reply_to=None, client_id=None):
    client_id = client_id or f"c-{timezone.now().timestamp()}-{author.pk}"
    return committing(
        chat.message_create,
        room=room,
        author=author,
        body=body,
        client_id=client_id,
        reply_to=reply_to,
    ).message


def react(committing, room, user, message, emoji="👍"):
    committing(
        chat.message_react, room=room, actor=user, message_id=message.pk, emoji=emoji, on=True
    )


def only(user) -> Notification:
    return Notification.objects.select_related("actor").get(recipient=user)


# --- replies -------------------------------------------------------------------


def test_a_reply_notifies_the_author_of_the_message_it_answers(committing, room, alice, bob):
    original = post(committing, room, alice, "lunch?")
    reply = post(committing, room, bob, "yes, at noon", reply_to=original.pk)
    notification = only(alice)
    assert notification.kind == "reply" and notification.actor == bob
    assert notification.title == "bob replied to your message"
    assert notification.body == "yes, at noon"
    assert notification.target == f"chat.message:{reply.pk}"
    assert notification.url == f"/chat/general/?at={reply.seq}"
    assert not Notification.objects.exclude(recipient=alice).exists()


def test_replying_to_yourself_notifies_nobody(committing, room, alice):
    original = post(committing, room, alice, "lunch?")
    post(committing, room, alice, "anyone?", reply_to=original.pk)
    assert not Notification.objects.exists()


def test_a_reply_that_mentions_the_author_is_one_mention(committing, room, alice, bob):
    original = post(committing, room, alice, "lunch?")
    post(committing, room, bob, "@alice yes", reply_to=original.pk)
    assert only(alice).kind == "mention"


def test_replies_to_one_message_group(committing, room, alice, bob, carol):
    original = post(committing, room, alice, "lunch?")
    post(committing, room, bob, "yes", reply_to=original.pk)
    first = only(alice)
    post(committing, room, carol, "me too", reply_to=original.pk)
    grown = only(alice)
    assert grown.pk > first.pk and grown.replaces == first.pk and grown.count == 2
    assert grown.title == "carol and bob replied to your message"
    assert grown.actor == carol and grown.body == "me too"


# --- reactions ------------------------------------------------------------------


def test_a_reaction_notifies_the_author(committing, room, alice, bob):
    message = post(committing, room, alice, "shipped it")
    react(committing, room, bob, message, "🎉")
    notification = only(alice)
    assert notification.kind == "reaction" and notification.actor == bob
    assert notification.title == "bob reacted to your message"
    assert notification.body == "🎉 shipped it"
    assert notification.url == f"/chat/general/?at={message.seq}"


def test_reacting_to_your_own_message_notifies_nobody(committing, room, alice):
    message = post(committing, room, alice, "shipped it")
    react(committing, room, alice, message)
    assert not Notification.objects.exists()


def test_reactions_group_into_one_with_the_others_counted(
    committing, room, alice, bob, carol, make_user
):
    message = post(committing, room, alice, "shipped it")
    dave, erin = make_user("dave"), make_user("erin")
    for user in (dave, erin):
        Membership.objects.create(room=room, user=user)
    for user in (bob, carol, dave, erin):
        react(committing, room, user, message)
    notification = only(alice)
    assert notification.count == 4
    assert notification.title == "erin and 3 others reacted to your message"
    # Two emoji from one person: one actor, two events.
    react(committing, room, erin, message, "🎉")
    notification = only(alice)
    assert notification.count == 5
    assert notification.title == "erin and 3 others reacted to your message"


def test_a_read_notification_does_not_grow(committing, room, alice, bob, carol):
    message = post(committing, room, alice, "shipped it")
    react(committing, room, bob, message)
    first = only(alice)
    services.notification_mark_read(user=alice, notification_id=first.pk)
    react(committing, room, carol, message)
    newest = Notification.objects.filter(recipient=alice).latest("id")
    assert Notification.objects.filter(recipient=alice).count() == 2
    assert newest.replaces is None and newest.count == 1
    assert newest.title == "carol reacted to your message"


def test_outside_the_window_a_new_notification_arrives(committing, room, alice, bob, carol):
    message = post(committing, room, alice, "shipped it")
    react(committing, room, bob, message)
    first = only(alice)
    Notification.objects.filter(pk=first.pk).update(
        created_at=timezone.now() - timedelta(seconds=601)
    )
    react(committing, room, carol, message)
    assert Notification.objects.filter(recipient=alice).count() == 2


def test_within_the_window_setting(committing, room, alice, bob, carol, settings):
    settings.NOTIFY_GROUP_WINDOW = 30
    message = post(committing, room, alice, "shipped it")
    react(committing, room, bob, message)
    Notification.objects.update(created_at=timezone.now() - timedelta(seconds=29))
    react(committing, room, carol, message)
    assert only(alice).count == 2


# --- mentions -------------------------------------------------------------------


def test_mentions_in_one_room_group(committing, room, alice, bob, carol):
    post(committing, room, bob, "@alice look")
    post(committing, room, carol, "@alice and here")
    notification = only(alice)
    assert notification.kind == "mention" and notification.count == 2
    assert notification.title == "carol and bob mentioned you in General"


def test_an_at_name_in_code_or_a_link_mentions_nobody(committing, room, alice, bob):
    post(committing, room, bob, "run `@alice` or see [@alice](https://example.com/)")
    assert not Notification.objects.filter(recipient=alice).exists()


def test_one_message_notifies_the_first_few_it_mentions(
    committing, room, alice, bob, carol, monkeypatch
):
    monkeypatch.setattr(receivers, "MENTIONS_MAX", 1)
    post(committing, room, alice, "@carol and @bob")
    assert only(carol).kind == "mention"
    assert not Notification.objects.filter(recipient=bob).exists()


def test_an_edit_notifies_only_the_newly_mentioned(committing, room, alice, bob, carol):
    message = post(committing, room, alice, "hi @bob")
    committing(
        chat.message_edit, room=room, actor=alice, message_id=message.pk, body="hi @bob @carol"
    )
    assert Notification.objects.filter(recipient=bob).count() == 1
    assert only(carol).kind == "mention"


def test_a_deactivated_user_is_told_of_nothing(committing, room, alice, bob):
    message = post(committing, room, alice, "hi")
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    post(committing, room, bob, "@alice hi", reply_to=message.pk)
    react(committing, room, bob, message)
    assert not Notification.objects.filter(recipient=alice).exists()


# --- room levels ----------------------------------------------------------------


def test_room_level_nothing_stores_nothing(committing, room, alice, bob):
    chat.membership_notify_set(room=room, user=alice, level="none")
    message = post(committing, room, alice, "hi")
    post(committing, room, bob, "@alice hi", reply_to=message.pk)
    react(committing, room, bob, message)
    assert not Notification.objects.exists()


def test_room_level_mentions_only_drops_reactions(committing, room, alice, bob):
    chat.membership_notify_set(room=room, user=alice, level="mentions")
    message = post(committing, room, alice, "hi")
    react(committing, room, bob, message)
    assert not Notification.objects.exists()
    post(committing, room, bob, "ok", reply_to=message.pk)
    post(committing, room, bob, "@alice ok")
    assert sorted(Notification.objects.values_list("kind", flat=True)) == ["mention", "reply"]


def test_a_muted_room_still_fills_the_inbox(committing, room, alice, bob):
    chat.membership_notify_set(
        room=room, user=alice, level="all", muted_until=timezone.now() + timedelta(hours=1)
    )
    post(committing, room, bob, "@alice hi")
    assert only(alice).kind == "mention"


def test_an_unknown_level_is_refused(room, alice):
    from realtime.errors import Refused

    with pytest.raises(Refused):
        chat.membership_notify_set(room=room, user=alice, level="loud")
    assert Membership.objects.get(room=room, user=alice).notify_level == "all"


# --- direct messages ------------------------------------------------------------


def test_a_direct_message_notifies_the_other_person_away(committing, alice, bob):
    room = chat.direct_room_open(user=alice, username="bob")
    message = post(committing, room, alice, "psst @bob")
    notification = only(bob)
    assert notification.kind == "direct" and notification.actor == alice
    assert notification.title == "alice sent you a message"
    assert notification.url == f"{room.get_absolute_url()}?at={message.seq}"
    assert not Notification.objects.filter(recipient=alice).exists()
    post(committing, room, alice, "are you there?")
    grown = only(bob)
    assert grown.count == 2 and grown.title == "alice sent you a message"
    assert grown.body == "are you there?"


def test_a_direct_message_notifies_nobody_inactive_or_silenced(committing, alice, bob):
    """Nor do its mentions: the other person was considered for the message itself."""
    room = chat.direct_room_open(user=alice, username="bob")
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    post(committing, room, alice, "psst @bob")
    assert not Notification.objects.filter(recipient=bob).exists()

    bob.is_active = True
    bob.save(update_fields=["is_active"])
    chat.membership_notify_set(room=room, user=bob, level="none")
    post(committing, room, alice, "psst @bob")
    assert not Notification.objects.filter(recipient=bob).exists()

    chat.membership_notify_set(room=room, user=bob, level="all")
    post(committing, room, alice, "psst @bob")
    assert only(bob).kind == "direct"


def test_a_grown_notification_takes_its_predecessors_deliveries_along(committing, alice, bob):
    room = chat.direct_room_open(user=alice, username="bob")
    post(committing, room, alice, "psst")
    first = only(bob)
    Delivery.objects.create(
        notification=first, channel=Delivery.Channel.EMAIL, status=Delivery.Status.SENT
    )
    post(committing, room, alice, "are you there?")
    grown = only(bob)
    assert grown.replaces == first.pk
    assert not Delivery.objects.filter(notification_id=first.pk).exists()
    assert not Notification.objects.filter(pk=first.pk).exists()


def test_only_deliveries_refer_to_a_notification():
    """A grown notification's predecessor goes with its deliveries, in two
    statements and no collector (services._notifications_delete): anything
    new that refers to a notification must go there too."""
    assert {rel.related_model for rel in Notification._meta.related_objects} == {Delivery}
    assert not Delivery._meta.related_objects


@pytest.mark.django_db(transaction=True)
async def test_a_direct_message_to_someone_in_the_room_notifies_nobody(connect_ws, alice, bob):
    room = await db(chat.direct_room_open)(user=alice, username="bob")
    bobs, _ = await open_room(connect_ws, room, bob)
    await db(chat.message_create)(room=room, author=alice, body="hi", client_id="c-1")
    assert (await receive(bobs, "message"))["message"]["body"] == "hi"
    assert not await db(Notification.objects.exists)()
    # Bob goes elsewhere: the next one reaches him as a notification.
    await bobs.disconnect()
    await db(chat.message_create)(room=room, author=alice, body="still there?", client_id="c-2")
    notification = await db(Notification.objects.get)()
    assert notification.recipient_id == bob.pk and notification.kind == "direct"


@pytest.mark.django_db(transaction=True)
async def test_grouped_notifications_reach_the_socket_replacing_the_old_one(
    connect_ws, open_stream, alice, bob, carol
):
    room = await db(chat.room_create)(name="General", created_by=alice)
    for user in (bob, carol):
        await db(Membership.objects.create)(room=room, user=user)
    message = (
        await db(chat.message_create)(room=room, author=alice, body="shipped", client_id="c-1")
    ).message
    stream, hello = await open_stream(alice)
    assert hello["unread"] == 0
    await db(chat.message_react)(room=room, actor=bob, message_id=message.pk, emoji="👍", on=True)
    first = await receive(stream, "notification")
    assert first["unread"] == 1
    assert first["notification"]["kind"] == "reaction"
    assert first["notification"]["actor"] == {"id": bob.pk, "username": "bob"}
    assert first["notification"]["count"] == 1 and "replaces" not in first["notification"]
    await db(chat.message_react)(room=room, actor=carol, message_id=message.pk, emoji="👍", on=True)
    grown = await receive(stream, "notification")
    assert grown["notification"]["replaces"] == first["notification"]["id"]
    assert grown["notification"]["id"] > first["notification"]["id"]
    assert grown["notification"]["count"] == 2
    assert grown["notification"]["title"] == "carol and bob reacted to your message"
    # One notification, still one unread.
    assert grown["unread"] == 1
    await assert_silent(stream)
    # A socket that opens now sees only the grown one, and the same count.
    _, again = await open_stream(alice)
    assert again["unread"] == 1
    assert [n["id"] for n in again["notifications"]] == [grown["notification"]["id"]]


@pytest.mark.django_db(transaction=True)
async def test_a_grouped_notification_counted_at_hello_keeps_the_count(
    open_stream, alice, bob, carol
):
    room = await db(chat.room_create)(name="General", created_by=alice)
    for user in (bob, carol):
        await db(Membership.objects.create)(room=room, user=user)
    message = (
        await db(chat.message_create)(room=room, author=alice, body="shipped", client_id="c-1")
    ).message
    await db(chat.message_react)(room=room, actor=bob, message_id=message.pk, emoji="👍", on=True)
    stream, hello = await open_stream(alice)
    assert hello["unread"] == 1
    await db(chat.message_react)(room=room, actor=carol, message_id=message.pk, emoji="👍", on=True)
    grown = await receive(stream, "notification")
    assert grown["notification"]["replaces"] == hello["notifications"][0]["id"]
    assert grown["unread"] == 1


# --- reading a room -------------------------------------------------------------


def test_reading_a_room_reads_its_notifications_up_to_the_seq(
    committing, room, alice, bob, carol, sent_events
):
    post(committing, room, bob, "@alice one")
    first = only(alice)
    Notification.objects.filter(pk=first.pk).update(collapse_key="")  # keep them apart
    later = post(committing, room, carol, "@alice two")
    elsewhere = chat.room_create(name="Other", created_by=alice)
    services.notify(alice, title="system note")
    assert Notification.objects.filter(recipient=alice, read_at__isnull=True).count() == 3
    committing(chat.room_mark_read, room=room, user=alice, seq=later.seq - 1)
    unread = Notification.objects.filter(recipient=alice, read_at__isnull=True)
    assert first.pk not in set(unread.values_list("pk", flat=True))
    assert unread.count() == 2
    # The bell hears it live.
    group, event = sent_events[-1]
    assert group == f"notifications.user.{alice.pk}"
    assert event["type"] == "notifications.unread"
    assert event["count"] == 2 and event["read"] == [first.pk]
    committing(chat.room_mark_read, room=room, user=alice, seq=later.seq)
    assert unread.count() == 1
    # Another room's read mark reads nothing of this one.
    committing(chat.room_mark_read, room=elsewhere, user=alice, seq=1)
    assert unread.count() == 1
