import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import frames, selectors, services
from chat.exceptions import RoomForbidden, RoomNotFound
from chat.models import Attachment


@pytest.mark.django_db
def test_public_room_is_readable_by_anyone_logged_in(public_room, carol):
    assert selectors.room_for_reader(slug=public_room.slug, user=carol) == public_room


@pytest.mark.django_db
def test_private_room_is_readable_by_members_only(private_room, bob, carol):
    assert selectors.room_for_reader(slug=private_room.slug, user=bob) == private_room
    with pytest.raises(RoomForbidden):
        selectors.room_for_reader(slug=private_room.slug, user=carol)
    with pytest.raises(RoomNotFound):
        selectors.room_for_reader(slug="missing", user=bob)


@pytest.mark.django_db
def test_only_the_owner_may_manage_a_private_room(private_room, alice, bob):
    assert selectors.room_for_owner(slug=private_room.slug, user=alice) == private_room
    with pytest.raises(RoomForbidden):
        selectors.room_for_owner(slug=private_room.slug, user=bob)


@pytest.mark.django_db
def test_rooms_for_user_lists_memberships_with_unread_counts(
    public_room, private_room, alice, bob, carol
):
    for n in range(3):
        services.message_create(room=private_room, author=alice, body=f"m{n}", client_id=f"c{n}")
    services.room_mark_read(room=private_room, user=bob, seq=1)
    summaries = {s.room.slug: s for s in selectors.rooms_for_user(user=bob)}
    assert set(summaries) == {private_room.slug}
    assert summaries[private_room.slug].unread == 2
    assert summaries[private_room.slug].last_message.body == "m2"
    assert selectors.rooms_for_user(user=carol) == []
    assert list(selectors.public_rooms_to_join(user=carol)) == [public_room]


@pytest.mark.django_db
def test_direct_room_is_named_after_the_other_person(alice, bob):
    room = services.direct_room_open(user=alice, username="bob")
    assert selectors.room_display_name(room=room, user=alice) == "@bob"
    assert [s.display_name for s in selectors.rooms_for_user(user=bob)] == ["@alice"]


@pytest.mark.django_db
def test_activity_rooms_are_the_users_own_the_busiest_first(public_room, private_room, alice, bob):
    quiet = services.room_create(name="Quiet", created_by=alice)
    services.message_create(room=public_room, author=alice, body="one", client_id="p1")
    for n in range(3):
        services.message_create(room=private_room, author=alice, body=f"m{n}", client_id=f"c{n}")

    assert selectors.activity_room_ids(user=alice) == [private_room.pk, public_room.pk, quiet.pk]
    assert selectors.activity_room_ids(user=bob) == [private_room.pk]  # a member of that one only


@pytest.mark.django_db
def test_first_member_ids_are_in_the_panels_order_and_cut_at_the_limit(django_user_model, carol):
    # Created in the reverse of their names' order: ids alone would sort them wrong.
    zoe = django_user_model.objects.create_user(username="zoe", password="pw-zoe-12345")
    amy = django_user_model.objects.create_user(username="amy", password="pw-amy-12345")
    room = services.room_create(name="Panel", created_by=carol, private=True)
    services.member_add(room=room, actor=carol, username=zoe.username)
    services.member_add(room=room, actor=carol, username=amy.username)
    services.room_create(name="Elsewhere", created_by=zoe, private=True)
    assert selectors.first_member_ids(room_id=room.pk, limit=10) == [amy.pk, carol.pk, zoe.pk]
    assert selectors.first_member_ids(room_id=room.pk, limit=2) == [amy.pk, carol.pk]


@pytest.mark.django_db
def test_messages_state_is_read_in_three_queries_however_many_messages(public_room, alice, bob):
    def post(number: int):
        return services.message_create(
            room=public_room, author=alice, body=f"m{number}", client_id=f"c{number}"
        ).message

    def attach(message, name: str) -> None:
        Attachment.objects.create(
            room=public_room,
            uploader=alice,
            message=message,
            file=f"k-{name}",
            name=name,
            size=3,
            content_type="text/plain",
        )

    first, second, third = post(1), post(2), post(3)
    for user, emoji in ((bob, "👍"), (alice, "🎉"), (alice, "👍")):
        services.message_react(
            room=public_room, actor=user, message_id=second.pk, emoji=emoji, on=True
        )
    attach(third, "b.txt")
    attach(third, "a.txt")
    attach(first, "c.txt")

    def read_states() -> tuple[list[dict], list[str]]:
        with CaptureQueriesContext(connection) as queries:
            latest = selectors.messages_latest(room=public_room)
            states = [frames.message_dict(message, public_room.slug) for message in latest]
        return states, [query["sql"] for query in queries.captured_queries]

    # The messages, then their reactions and their attachments (one round trip
    # on PostgreSQL, two statements elsewhere): none per message, and from their
    # own tables alone (reactions in their model's order would join every one
    # to its message and room).
    states, statements = read_states()
    assert len(statements) <= 3
    assert not any("JOIN" in sql.upper() for sql in statements[1:])
    for number in range(4, 10):
        post(number)
    more, more_statements = read_states()
    assert len(more) == 9
    assert len(more_statements) == len(statements)

    assert [state["body"] for state in states] == ["m1", "m2", "m3"]
    assert [[a["name"] for a in state["attachments"]] for state in states] == [
        ["c.txt"],
        [],
        ["b.txt", "a.txt"],  # in the order they were uploaded
    ]
    assert [state["reactions"] for state in states] == [
        [],
        [
            {"emoji": "👍", "count": 2, "user_ids": [bob.pk, alice.pk]},
            {"emoji": "🎉", "count": 1, "user_ids": [alice.pk]},
        ],
        [],
    ]
    # The same state as a message read on its own.
    assert states[1] == frames.message_dict(
        selectors.message_state(message_id=second.pk), public_room.slug
    )
