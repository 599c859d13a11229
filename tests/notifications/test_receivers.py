"""Chat mentions become notifications for members of the room, through a signal
(replies, reactions, direct messages and reading a room: test_chat_receivers)."""

from pathlib import Path

import pytest
from django.conf import settings

from chat import services as chat
from chat.models import Membership
from notifications import receivers
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(alice, bob):
    room = chat.room_create(name="General", created_by=alice)
    Membership.objects.create(room=room, user=bob)
    return room


def post(room, author, body, django_capture_on_commit_callbacks):
    # message_posted is sent after commit.
    with django_capture_on_commit_callbacks(execute=True):
        return chat.message_create(room=room, author=author, body=body, client_id="c-1").message


def test_mention_of_a_member_notifies_them_with_a_link_to_the_room(
    room, alice, bob, django_capture_on_commit_callbacks
):
    post(room, alice, "hey @bob, look at this", django_capture_on_commit_callbacks)
    notification = Notification.objects.get()
    assert notification.recipient == bob
    assert notification.title == "alice mentioned you in General"
    assert notification.body == "hey @bob, look at this"
    # The room, opened at the message.
    assert notification.url == "/chat/general/?at=1"
    assert notification.kind == "mention" and notification.actor == alice


def test_mention_of_a_non_member_or_nobody_notifies_nobody(
    room, alice, carol, django_capture_on_commit_callbacks
):
    post(room, alice, "@carol @nobody hello", django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 0


def test_mentioning_yourself_notifies_nobody(room, alice, django_capture_on_commit_callbacks):
    post(room, alice, "note to @alice", django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 0


def test_mentions_ignore_case_punctuation_and_repeats(
    room, alice, bob, django_capture_on_commit_callbacks
):
    post(room, alice, "@BOB. and again @bob!", django_capture_on_commit_callbacks)
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [bob.pk]


def test_an_email_address_is_not_a_mention(room, alice, django_capture_on_commit_callbacks):
    post(room, alice, "write to me@bob.example", django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 0


def test_a_failing_notification_never_fails_the_message(
    room, alice, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(*args, **kwargs):
        raise RuntimeError("down")

    monkeypatch.setattr(receivers.services, "notify", broken)
    message = post(room, alice, "@bob hi", django_capture_on_commit_callbacks)
    assert message.pk is not None and Notification.objects.count() == 0


def test_chat_does_not_import_notifications():
    for source in Path(settings.BASE_DIR, "chat").rglob("*.py"):
        text = source.read_text()
        assert "import notifications" not in text and "from notifications" not in text, source
