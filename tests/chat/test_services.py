import threading

import pytest
from django.db import connection, transaction

from chat import services
from chat.exceptions import RoomForbidden
from chat.models import Membership, Message, Room
from chat.signals import message_posted
from realtime.errors import Refused


@pytest.mark.django_db(transaction=True)
def test_seq_is_gap_free_under_20_concurrent_sends(public_room, make_user):
    authors = [make_user(f"user{i}") for i in range(20)]
    errors = []
    barrier = threading.Barrier(20)

    def send(author, n):
        try:
            barrier.wait()
            services.message_create(
                room=public_room, author=author, body=f"hello {n}", client_id=f"c-{n}"
            )
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(a, i)) for i, a in enumerate(authors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    seqs = sorted(Message.objects.filter(room=public_room).values_list("seq", flat=True))
    assert seqs == list(range(1, 21))
    assert Room.objects.get(pk=public_room.pk).last_seq == 20


@pytest.mark.django_db
def test_resend_with_same_client_id_returns_original(public_room, alice):
    first = services.message_create(room=public_room, author=alice, body="once", client_id="c-1")
    again = services.message_create(
        room=public_room, author=alice, body="changed text", client_id="c-1"
    )
    assert first.created and not again.created
    assert again.push is None  # nothing new for the room to hear
    assert (again.message.pk, again.message.seq, again.message.body) == (
        first.message.pk,
        first.message.seq,
        "once",
    )
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_same_client_id_from_another_author_is_a_new_message(public_room, alice, bob):
    services.message_create(room=public_room, author=alice, body="a", client_id="c-1")
    stored = services.message_create(room=public_room, author=bob, body="b", client_id="c-1")
    assert stored.created and stored.message.seq == 2


@pytest.mark.django_db(transaction=True)
def test_rollback_pushes_nothing_and_stores_nothing(public_room, alice, sent_events):
    pushed, posted = sent_events, []
    message_posted.connect(lambda **kw: posted.append(kw), weak=False, dispatch_uid="t-rollback")
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.message_create(room=public_room, author=alice, body="x", client_id="c-1")
            raise RuntimeError("roll back")
    finally:
        message_posted.disconnect(dispatch_uid="t-rollback")
    assert pushed == [] and posted == []
    assert Message.objects.count() == 0
    assert Room.objects.get(pk=public_room.pk).last_seq == 0


@pytest.mark.django_db(transaction=True)
def test_commit_pushes_once_after_commit(public_room, alice, sent_events):
    pushed = sent_events
    with transaction.atomic():
        services.message_create(room=public_room, author=alice, body="x", client_id="c-1")
        assert pushed == []
    # One push to the room, and one to the room lists of its members (chat.receivers).
    groups = [group for group, _ in pushed]
    assert groups == [f"chat.room.{public_room.pk}", f"chat.activity.{public_room.pk}"]
    _, event = pushed[0]
    assert event["type"] == "chat.message" and '"seq":1' in event["text"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("", "invalid"),
        ("   \n ", "invalid"),
        (None, "invalid"),
        (42, "invalid"),
        ("x" * 4001, "too_large"),
    ],
)
def test_bad_body_is_rejected_and_stores_nothing(public_room, alice, body, code):
    with pytest.raises(Refused) as error:
        services.message_create(room=public_room, author=alice, body=body, client_id="c-1")
    assert error.value.code == code
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_body_is_trimmed_and_4000_chars_fit(public_room, alice):
    stored = services.message_create(
        room=public_room, author=alice, body="  " + "x" * 4000 + "\n", client_id="c-1"
    )
    assert stored.message.body == "x" * 4000


@pytest.mark.django_db
@pytest.mark.parametrize("client_id", ["", "x" * 65, None, 7])
def test_bad_client_id_is_rejected(public_room, alice, client_id):
    with pytest.raises(Refused):
        services.message_create(room=public_room, author=alice, body="hi", client_id=client_id)
    assert Message.objects.count() == 0


@pytest.mark.django_db
def test_posting_in_public_room_joins_it(public_room, bob):
    services.message_create(room=public_room, author=bob, body="hi", client_id="c-1")
    assert Membership.objects.filter(room=public_room, user=bob).exists()


@pytest.mark.django_db
def test_non_member_cannot_post_in_private_room(private_room, carol):
    with pytest.raises(RoomForbidden):
        services.message_create(room=private_room, author=carol, body="hi", client_id="c-1")
    assert Message.objects.count() == 0
    assert Room.objects.get(pk=private_room.pk).last_seq == 0


@pytest.mark.django_db
def test_read_mark_never_moves_back_or_past_last_seq(public_room, alice):
    for n in range(3):
        services.message_create(room=public_room, author=alice, body="m", client_id=f"c-{n}")
    membership = Membership.objects.get(room=public_room, user=alice)
    Membership.objects.filter(pk=membership.pk).update(last_read_seq=1)
    assert services.room_mark_read(room=public_room, user=alice, seq=99)
    assert Membership.objects.get(pk=membership.pk).last_read_seq == 3
    assert not services.room_mark_read(room=public_room, user=alice, seq=2)
    assert Membership.objects.get(pk=membership.pk).last_read_seq == 3


@pytest.mark.django_db
def test_only_owner_manages_private_members(private_room, alice, bob, carol):
    with pytest.raises(RoomForbidden):
        services.member_add(room=private_room, actor=bob, username="carol")
    services.member_add(room=private_room, actor=alice, username="@Carol")
    assert Membership.objects.filter(room=private_room, user=carol).exists()
    services.member_remove(room=private_room, actor=alice, username="carol")
    assert not Membership.objects.filter(room=private_room, user=carol).exists()
    with pytest.raises(Refused):
        services.member_remove(room=private_room, actor=alice, username="alice")
    with pytest.raises(Refused):
        services.member_add(room=private_room, actor=alice, username="nobody")


@pytest.mark.django_db
def test_direct_room_is_created_once_for_the_pair(alice, bob):
    room = services.direct_room_open(user=alice, username="bob")
    again = services.direct_room_open(user=bob, username="alice")
    assert room.pk == again.pk and room.kind == Room.Kind.DIRECT
    assert set(room.members.values_list("username", flat=True)) == {"alice", "bob"}
    with pytest.raises(Refused):
        services.direct_room_open(user=alice, username="alice")


@pytest.mark.django_db
def test_room_create_validates_name_and_makes_unique_slugs(alice):
    first = services.room_create(name="Team", created_by=alice)
    second = services.room_create(name="Team", created_by=alice)
    assert first.slug == "team" and second.slug == "team-2"
    assert Membership.objects.get(room=first, user=alice).role == Membership.Role.OWNER
    for bad in ["", "   ", "x" * 81]:
        with pytest.raises(Refused):
            services.room_create(name=bad, created_by=alice)
