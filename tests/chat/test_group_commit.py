"""Group commit (chat.writer): the sends of many sockets stored in one
transaction keep every promise of a lone send: seq without gaps per room, a
resend answered with the original, a refused send storing nothing, events only
after commit, and a failed batch losing or doubling nothing."""

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.db.models.signals import post_save

from chat import events, moderation, services, writer
from chat.exceptions import RoomBanned, RoomForbidden
from chat.models import Membership, Message, Room, RoomBan, RoomEvent
from chat.services import MessageStored, room_create
from realtime.db import select_in
from realtime.errors import Refused
from realtime.groups import user_group
from realtime.userstream import GROUPS_CHANGED


def _seqs(room: Room) -> list[int]:
    return sorted(Message.objects.filter(room=room).values_list("seq", flat=True))


def _event_seqs(room: Room) -> list[int]:
    return sorted(RoomEvent.objects.filter(room=room).values_list("seq", flat=True))


def _pushed_seqs(sent_events, room: Room) -> list[int]:
    return [event["seq"] for group, event in sent_events if group == events.room_group(room.pk)]


@pytest.fixture
def second_room(bob):
    return room_create(name="Second", created_by=bob)


@pytest.mark.django_db(transaction=True)
def test_a_batch_gives_each_room_its_next_seqs_and_pushes_after_commit(
    public_room, second_room, alice, bob, carol, sent_events
):
    sends = [
        writer.Send(public_room, alice, "a1", "c-1"),
        writer.Send(second_room, bob, "b1", "c-1"),
        writer.Send(public_room, carol, "a2", "c-1"),
        writer.Send(second_room, carol, "b2", "c-2"),
        writer.Send(public_room, bob, "a3", "c-1"),
    ]
    outcomes = writer.store_sends(sends)

    assert all(isinstance(o, MessageStored) and o.created for o in outcomes)
    assert [o.message.seq for o in outcomes] == [1, 1, 2, 2, 3]
    assert _seqs(public_room) == _event_seqs(public_room) == [1, 2, 3]
    assert _seqs(second_room) == _event_seqs(second_room) == [1, 2]
    assert Room.objects.get(pk=public_room.pk).last_seq == 3
    assert Room.objects.get(pk=second_room.pk).last_seq == 2
    # One push each, in seq order, all made after the commit, all delivered.
    assert _pushed_seqs(sent_events, public_room) == [1, 2, 3]
    assert _pushed_seqs(sent_events, second_room) == [1, 2]
    assert all(o.reached_room for o in outcomes)
    # Posting joins the public room; your own message is read.
    membership = Membership.objects.get(room=public_room, user=carol)
    assert membership.last_read_seq == 2


@pytest.mark.django_db(transaction=True)
def test_the_same_client_id_twice_in_one_batch_stores_one_message(
    public_room, alice, bob, sent_events
):
    outcomes = writer.store_sends(
        [
            writer.Send(public_room, alice, "first", "same"),
            writer.Send(public_room, bob, "bob's", "same"),  # another author: a new message
            writer.Send(public_room, alice, "changed", "same"),  # the resend
            writer.Send(public_room, alice, "next", "other"),
        ]
    )

    first, bobs, again, following = outcomes
    assert first.created and bobs.created and following.created
    assert not again.created and again.push is None
    assert (again.message.pk, again.message.seq, again.message.body) == (
        first.message.pk,
        1,
        "first",
    )
    assert [first.message.seq, bobs.message.seq, following.message.seq] == [1, 2, 3]
    assert Message.objects.filter(room=public_room, author=alice, client_id="same").count() == 1
    assert _seqs(public_room) == _event_seqs(public_room) == [1, 2, 3]
    assert _pushed_seqs(sent_events, public_room) == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_a_resend_in_a_later_batch_gets_the_stored_original(
    public_room, second_room, alice, bob, sent_events, caplog
):
    first = writer.store_sends(
        [
            writer.Send(public_room, alice, "one", "c-1"),
            writer.Send(second_room, alice, "elsewhere", "c-2"),
        ]
    )
    # The same client_id in another room, or by another author, is a new message.
    later = writer.store_sends(
        [
            writer.Send(public_room, bob, "bob's", "c-1"),
            writer.Send(public_room, alice, "one, again", "c-1"),
            writer.Send(second_room, alice, "new", "c-1"),
        ]
    )

    # Found by the batch, not by its failing on the unique client_id and
    # being stored again one by one.
    assert not [r for r in caplog.records if r.name == writer.logger.name]
    bobs, again, new = later
    assert bobs.created and new.created
    assert not again.created and again.push is None
    assert again.message.pk == first[0].message.pk and again.message.body == "one"
    assert again.message.author == alice and again.message.room == public_room
    assert [bobs.message.seq, new.message.seq] == [2, 2]
    assert _seqs(public_room) == _event_seqs(public_room) == [1, 2]
    assert _pushed_seqs(sent_events, public_room) == [1, 2]


@pytest.mark.django_db(transaction=True)
def test_first_posts_in_one_batch_join_once_each_and_read_their_own_messages(
    public_room, alice, bob, carol, sent_events
):
    saved = []

    def on_save(sender, instance, created, **kwargs):
        saved.append((instance.user_id, instance.pk, instance.joined_at, created))

    post_save.connect(on_save, sender=Membership, dispatch_uid="test-first-posts")
    try:
        outcomes = writer.store_sends(
            [
                writer.Send(public_room, carol, "c1", "c-1"),  # her first post: joins
                writer.Send(public_room, alice, "a1", "c-1"),  # the owner, a member already
                writer.Send(public_room, bob, "b1", "c-1"),  # his first post: joins
                writer.Send(public_room, carol, "c2", "c-2"),  # again, already joined
            ]
        )
    finally:
        post_save.disconnect(sender=Membership, dispatch_uid="test-first-posts")

    assert [o.message.seq for o in outcomes] == [1, 2, 3, 4]
    read = dict(
        Membership.objects.filter(room=public_room).values_list("user__username", "last_read_seq")
    )
    assert read == {"alice": 2, "bob": 3, "carol": 4}
    assert Membership.objects.filter(room=public_room).count() == 3
    # Stored as Membership.objects.create would store them, and post_save's
    # receivers are told of those rows.
    stored = {
        m.user_id: m for m in Membership.objects.filter(room=public_room, user__in=[carol, bob])
    }
    for membership in stored.values():
        assert (membership.role, membership.notify_level) == ("member", "all")
        assert membership.muted_until is None and membership.joined_at is not None
    assert sorted(saved) == sorted((m.user_id, m.pk, m.joined_at, True) for m in stored.values())
    # Each new member's own streams are told to follow the room, once, after commit.
    changed = [group for group, event in sent_events if event.get("type") == GROUPS_CHANGED]
    assert sorted(changed) == sorted([user_group(carol.pk), user_group(bob.pk)])


@pytest.mark.django_db(transaction=True)
def test_a_batch_refuses_the_sends_of_authors_banned_from_their_room_only(
    public_room, second_room, alice, bob, carol
):
    moderation.member_ban(room=public_room, actor=alice, username="carol")

    outcomes = writer.store_sends(
        [
            writer.Send(public_room, carol, "banned here", "c-1"),
            writer.Send(second_room, carol, "not banned there", "c-2"),
            writer.Send(public_room, bob, "not banned", "c-1"),
        ]
    )

    assert isinstance(outcomes[0], RoomBanned)
    assert [(o.message.room, o.message.seq) for o in outcomes[1:]] == [
        (second_room, 1),
        (public_room, 1),
    ]
    assert not Membership.objects.filter(room=public_room, user=carol).exists()


@pytest.mark.django_db(transaction=True)
def test_refused_sends_in_a_batch_store_nothing_and_leave_no_gap(
    public_room, private_room, alice, carol, sent_events
):
    outcomes = writer.store_sends(
        [
            writer.Send(public_room, alice, "one", "c-1"),
            writer.Send(public_room, alice, "   ", "c-2"),  # empty
            writer.Send(private_room, carol, "not a member", "c-3"),
            writer.Send(public_room, alice, "two", "x" * 65),  # bad client_id
            writer.Send(public_room, alice, "three", "c-4"),
        ]
    )

    assert isinstance(outcomes[1], Refused) and isinstance(outcomes[3], Refused)
    assert isinstance(outcomes[2], RoomForbidden)
    assert [outcomes[0].message.seq, outcomes[4].message.seq] == [1, 2]
    assert _seqs(public_room) == _event_seqs(public_room) == [1, 2]
    assert _seqs(private_room) == [] and Room.objects.get(pk=private_room.pk).last_seq == 0
    assert not Membership.objects.filter(room=private_room, user=carol).exists()
    assert _pushed_seqs(sent_events, public_room) == [1, 2]
    assert _pushed_seqs(sent_events, private_room) == []


@pytest.mark.django_db(transaction=True)
def test_a_send_the_database_refuses_fails_alone(public_room, second_room, alice, bob, sent_events):
    # A row already holds the second room's next seq (written behind the
    # services' back): its send breaks the unique (room, seq), the others don't.
    Message.objects.create(room=second_room, seq=1, author=bob, body="x", client_id="stray")
    outcomes = writer.store_sends(
        [
            writer.Send(public_room, alice, "one", "c-1"),
            writer.Send(second_room, bob, "clash", "c-1"),
            writer.Send(public_room, alice, "two", "c-2"),
        ]
    )

    assert isinstance(outcomes[1], Exception) and not isinstance(outcomes[1], MessageStored)
    assert [outcomes[0].message.seq, outcomes[2].message.seq] == [1, 2]
    assert _seqs(public_room) == _event_seqs(public_room) == [1, 2]
    assert Room.objects.get(pk=second_room.pk).last_seq == 0
    assert _event_seqs(second_room) == []
    assert not Message.objects.filter(room=second_room, client_id="c-1").exists()
    assert _pushed_seqs(sent_events, public_room) == [1, 2]
    assert _pushed_seqs(sent_events, second_room) == []


def _duplicate_first_event(room_events: list[RoomEvent]) -> list[RoomEvent]:
    # Refused at once, by the events' unique (room, seq): the transaction
    # fails in the middle of its last statements.
    return [*room_events, room_events[0]]


def _event_of_no_message(room_events: list[RoomEvent]) -> list[RoomEvent]:
    # Refused at commit, by the deferred check of the event's message.
    missing = RoomEvent(room=room_events[0].room, seq=10**6, kind=RoomEvent.Kind.MESSAGE, text="{}")
    missing.message_id = 10**9
    return [*room_events, missing]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("refused", [_duplicate_first_event, _event_of_no_message])
def test_a_failed_batch_is_stored_one_by_one_without_loss_or_duplicate(
    public_room, alice, bob, monkeypatch, sent_events, refused
):
    # The database refuses a row of the batch's last statements, after its
    # messages were inserted in the same transaction: all of it rolls back,
    # and each send is stored again in a transaction of its own.
    events_insert = services._room_events_insert
    failed = []

    def failing_events_insert(room_events):
        if not failed:
            failed.append(len(room_events))
            room_events = refused(room_events)
        return events_insert(room_events)

    monkeypatch.setattr(services, "_room_events_insert", failing_events_insert)
    outcomes = writer.store_sends(
        [
            writer.Send(public_room, alice, "one", "c-1"),
            writer.Send(public_room, bob, "two", "c-1"),
            writer.Send(public_room, alice, "one again", "c-1"),  # a resend in the batch
            writer.Send(public_room, alice, "", "c-2"),  # refused
            writer.Send(public_room, bob, "three", "c-3"),
        ]
    )

    assert failed == [3]
    one, two, again, refused_send, three = outcomes
    assert one.created and two.created and three.created
    assert not again.created and again.message.pk == one.message.pk
    assert isinstance(refused_send, Refused)
    assert [one.message.seq, two.message.seq, three.message.seq] == [1, 2, 3]
    assert _seqs(public_room) == _event_seqs(public_room) == [1, 2, 3]
    assert Room.objects.get(pk=public_room.pk).last_seq == 3
    assert Message.objects.filter(room=public_room).count() == 3
    # Nothing of the rolled-back batch was pushed: each seq once.
    assert _pushed_seqs(sent_events, public_room) == [1, 2, 3]
    # The connection is sound and back out of autocommit for the next batch.
    assert writer.store_sends([writer.Send(public_room, bob, "four", "c-4")])[0].message.seq == 4


@pytest.mark.django_db(transaction=True)
async def test_sends_waiting_together_are_stored_in_one_batch(public_room, make_user):
    authors = [await database_sync_to_async(make_user)(f"sender{n}") for n in range(30)]
    batches = writer.writer.batches

    results = await asyncio.gather(
        *(
            writer.queue_message(room=public_room, author=a, body=f"m{n}", client_id=f"c{n}")
            for n, a in enumerate(authors)
        ),
        writer.queue_message(room=public_room, author=authors[0], body="", client_id="bad"),
        return_exceptions=True,
    )

    assert writer.writer.batches - batches == 1
    stored, refused = results[:30], results[30]
    assert isinstance(refused, Refused)
    assert [r.message.seq for r in stored] == list(range(1, 31))
    assert all(r.reached_room for r in stored)
    assert await database_sync_to_async(_seqs)(public_room) == list(range(1, 31))


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_over_the_same_rooms_keep_seq_gap_free(make_user, alice):
    # Two writers (as in two workers) each store batches that touch the same
    # rooms, listed in opposite orders: the rooms are locked in id order, so
    # neither waits on the other in a circle, and seq has no gap or repeat.
    rooms = [room_create(name=f"Room {n}", created_by=alice) for n in range(4)]
    senders = [make_user(f"w{n}") for n in range(2)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(worker: int) -> None:
        try:
            barrier.wait()
            order = rooms if worker == 0 else rooms[::-1]
            for batch in range(10):
                sends = [
                    writer.Send(room, senders[worker], "hi", f"{batch}-{room.pk}") for room in order
                ]
                for outcome in writer.store_sends(sends):
                    if isinstance(outcome, Exception):
                        errors.append(outcome)
        except BaseException as error:  # collected and asserted below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(w,)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for room in rooms:
        assert _seqs(room) == _event_seqs(room) == list(range(1, 21))
        assert Room.objects.get(pk=room.pk).last_seq == 20


@pytest.mark.django_db
@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's planner: it keeps no statistics"
)
def test_a_batchs_reads_look_up_keys_instead_of_reading_the_room(public_room, alice, bob):
    # With "ORDER BY id" SQLite walked the room's index to skip a sort: every
    # message of the room read for a batch's resend check.
    reads = [
        select_in(
            Message,
            ("id",),
            room=[public_room.pk],
            author=[alice.pk, bob.pk],
            client_id=["c-1", "c-2"],
        ),
        select_in(Membership, ("id",), room=[public_room.pk], user=[alice.pk, bob.pk]),
        select_in(RoomBan, ("id",), room=[public_room.pk], user=[alice.pk, bob.pk]),
    ]
    for read in reads:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {read.sql}", read.params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert "SEARCH" in plan and "SCAN" not in plan, plan
        assert "room_id=? AND" in plan, plan  # the unique key's index, not the room's
