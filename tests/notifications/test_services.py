"""notify, broadcast and marking read: what they store and what they push."""

import math

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from notifications import events, services, signals
from notifications.exceptions import NotificationNotFound
from notifications.models import Broadcast, Notification

pytestmark = pytest.mark.django_db


def inserts(context) -> list[str]:
    return [q["sql"] for q in context.captured_queries if q["sql"].startswith("INSERT")]


def batch_size(count: int) -> int:
    """Rows per INSERT for `count` rows: SQLite caps the parameters of one
    statement; PostgreSQL takes them all at once."""
    fields = [f for f in Notification._meta.concrete_fields if not f.primary_key]
    return min(services.BATCH_SIZE, connection.ops.bulk_batch_size(fields, [None] * count))


def test_notify_one_user_stores_one_row_with_the_content(alice):
    [row] = services.notify(
        alice, title="  Hello  ", body="Welcome aboard", level="success", url="/chat/general/"
    )
    stored = Notification.objects.get()
    assert stored.pk == row.pk and stored.recipient == alice
    assert (stored.title, stored.body, stored.level, stored.url) == (
        "Hello",
        "Welcome aboard",
        "success",
        "/chat/general/",
    )
    assert stored.read_at is None and stored.broadcast is None


def test_notify_single_user_takes_a_fixed_number_of_queries(alice, django_assert_num_queries):
    # SAVEPOINT, INSERT, RELEASE: no per-recipient reads.
    with django_assert_num_queries(3):
        services.notify(alice, title="Hi")


@pytest.mark.parametrize("count", [1, services.GROW_ONE_BY_ONE_MAX, 30])
def test_a_collapse_key_grows_each_recipients_unread_row(make_users, count):
    users = make_users(count)
    first = services.notify(users, title="Build failed", kind="system", collapse_key="build:7")
    # One recipient read it: theirs does not grow, a new one starts.
    services.notification_mark_read(user=users[0], notification_id=first[0].pk)
    second = services.notify(users, title="Build failed", kind="system", collapse_key="build:7")
    by_recipient = {row.recipient_id: row for row in second}
    assert by_recipient[users[0].pk].count == 1 and by_recipient[users[0].pk].replaces is None
    for old in first[1:]:
        grown = by_recipient[old.recipient_id]
        assert (grown.count, grown.replaces) == (2, old.pk)
    # Each predecessor is gone; the read one stays.
    assert Notification.objects.count() == count + 1


@pytest.mark.parametrize("count", [10, 300])
def test_notify_many_users_inserts_in_bulk_one_query_per_batch(make_users, count):
    users = make_users(count)
    with CaptureQueriesContext(connection) as context:
        rows = services.notify(users, title="Bulk")
    assert len(rows) == count
    assert len(inserts(context)) == math.ceil(count / batch_size(count))
    # Everything else is a constant: the savepoint and its release.
    assert len(context.captured_queries) - len(inserts(context)) == 2
    assert Notification.objects.count() == count


def test_notify_a_queryset_reads_its_ids_once(make_users):
    make_users(50)
    from django.contrib.auth import get_user_model

    with CaptureQueriesContext(connection) as context:
        services.notify(get_user_model().objects.all(), title="All of you")
    selects = [q for q in context.captured_queries if q["sql"].startswith("SELECT")]
    assert len(selects) == 1
    assert Notification.objects.count() == 50


def test_notify_deduplicates_recipients(alice, bob):
    services.notify([alice, bob, alice], title="Once each")
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == sorted(
        [alice.pk, bob.pk]
    )


def test_the_rows_carry_the_users_given(alice, bob):
    """What reads them after the commit (the email's decision) reads no user again."""
    given = {alice.pk: alice, bob.pk: bob}
    rows = services.notify(list(given.values()), title="Yours")
    assert len(rows) == 2
    assert all(row.recipient is given[row.recipient_id] for row in rows)


def test_notify_a_group_reaches_its_active_members_only(make_user, staff_group):
    member, sleeper, outsider = make_user("m"), make_user("s", is_active=False), make_user("o")
    member.groups.add(staff_group)
    sleeper.groups.add(staff_group)
    services.notify(staff_group, title="Team")
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [member.pk]
    assert outsider.notifications.count() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "200"),
        ({"title": "ok", "body": "x" * 4001}, "4000"),
        ({"title": "ok", "level": "critical"}, "level"),
        ({"title": "ok", "url": "//evil.example/"}, "path on this site"),
        ({"title": "ok", "url": "/\\evil.example/"}, "path on this site"),
        ({"title": "ok", "url": "https://evil.example/"}, "path on this site"),
        ({"title": "ok", "url": "javascript:alert(1)"}, "path on this site"),
        ({"title": "ok", "url": "chat/general/"}, "path on this site"),
        ({"title": "ok", "url": "/chat/ general/"}, "path on this site"),
    ],
)
def test_invalid_content_is_a_value_error_and_stores_nothing(alice, bob, content, message):
    with pytest.raises(ValueError, match=message):
        services.notify([alice, bob], **content)
    with pytest.raises(ValueError, match=message):
        services.broadcast(**content)
    assert Notification.objects.count() == 0
    assert Broadcast.objects.count() == 0


def test_title_of_exactly_200_and_body_of_4000_are_accepted(alice):
    services.notify(alice, title="t" * 200, body="b" * 4000)
    assert Notification.objects.count() == 1


def test_recipients_of_the_wrong_kind_are_a_type_error(alice):
    with pytest.raises(TypeError):
        services.notify("alice", title="Hi")
    with pytest.raises(TypeError):
        services.notify([alice.pk], title="Hi")
    assert Notification.objects.count() == 0


def test_notify_pushes_only_after_commit(alice, django_capture_on_commit_callbacks, sent_events):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.notify(alice, title="Later")
        assert sent_events == []
    # The push, then its socket delivery record, then notifications_stored.
    assert len(callbacks) == 3


def test_rolled_back_notify_pushes_nothing(alice, django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.notify(alice, title="Never")
        raise RuntimeError("rolled back")
    assert callbacks == []
    assert Notification.objects.count() == 0


def test_a_few_users_get_one_event_each_in_their_own_group(
    alice, bob, django_capture_on_commit_callbacks, sent_events
):
    with django_capture_on_commit_callbacks(execute=True):
        rows = services.notify([alice, bob], title="Hi")
    by_user = {row.recipient_id: row.pk for row in rows}
    assert sorted(group for group, _ in sent_events) == sorted(
        [f"notifications.user.{alice.pk}", f"notifications.user.{bob.pk}"]
    )
    for group, event in sent_events:
        user_id = int(group.rsplit(".", 1)[1])
        assert event["users"] == [user_id] and event["ids"] == [[0, by_user[user_id]]]


def test_many_users_share_one_event(make_users, django_capture_on_commit_callbacks, sent_events):
    users = make_users(events.PER_USER_PUSH_MAX + 1)
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(users, title="Hi")
    [(group, event)] = sent_events
    assert group == events.ALL_USERS_GROUP
    assert event["users"] == [u.pk for u in users]


def test_broadcast_to_everyone_is_one_event_and_stores_one_row_per_active_user(
    make_users, make_user, django_capture_on_commit_callbacks, sent_events
):
    users = make_users(30)
    make_user("gone", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        record = services.broadcast(title="Maintenance at 22:00", level="warning")
    assert record.recipient_count == 30 and record.sent_at is not None
    assert record.audience == Broadcast.Audience.ALL
    assert Notification.objects.filter(broadcast=record).count() == 30
    [(group, event)] = sent_events
    assert group == events.ALL_USERS_GROUP
    assert event["users"] == [u.pk for u in users]
    rows = dict(Notification.objects.values_list("recipient_id", "id"))
    from notifications.consumers import notification_id_in

    assert all(notification_id_in(event, u.pk) == rows[u.pk] for u in users)


def test_a_socket_finds_its_users_id_in_a_batch_of_one_run_or_several():
    from notifications.consumers import notification_id_in

    users = [1, 2, 3, 4, 5, 6, 7]
    pairs = [(1, 100), (2, 101), (3, 102), (4, 200), (5, 201), (6, 300), (7, 301)]
    several = {"users": users, "ids": events.id_runs(pairs)}
    assert several["ids"] == [[0, 100], [3, 200], [5, 300]]
    assert [notification_id_in(several, user) for user in users] == [nid for _, nid in pairs]
    one = {"users": [3, 5, 9], "ids": events.id_runs([(3, 40), (5, 41), (9, 42)])}
    assert [notification_id_in(one, user) for user in (3, 5, 9)] == [40, 41, 42]
    assert notification_id_in(one, 4) is None and notification_id_in(several, 8) is None


def test_broadcast_to_groups_sends_one_event_per_group(
    make_user, django_capture_on_commit_callbacks, sent_events
):
    red, blue = Group.objects.create(name="red"), Group.objects.create(name="blue")
    a, b, both, _ = (make_user(n) for n in ("a", "b", "both", "neither"))
    a.groups.add(red)
    b.groups.add(blue)
    both.groups.add(red, blue)
    with django_capture_on_commit_callbacks(execute=True):
        record = services.broadcast(title="Teams", audience=[red, blue])
    assert record.recipient_count == 3
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == sorted(
        [a.pk, b.pk, both.pk]
    )
    assert sorted(group for group, _ in sent_events) == sorted(
        [events.audience_group(red.pk), events.audience_group(blue.pk)]
    )


def test_deleting_a_broadcast_keeps_its_notifications_unlinked(alice, bob):
    # The link has no constraint in the database (a broadcast's commit checks
    # none per row): Django's SET_NULL is what keeps it whole.
    record = services.broadcast(title="Soon gone", audience=[alice, bob])
    record.delete()
    assert list(Notification.objects.values_list("broadcast_id", flat=True)) == [None, None]
    assert Notification.objects.filter(title="Soon gone").count() == 2


def test_a_broadcasts_rows_reach_the_delivery_channels_as_they_were_stored(
    make_users, django_capture_on_commit_callbacks
):
    users = make_users(5)
    # Ids that differ from the users' (a mix-up of the two shows).
    services.broadcast(title="Earlier", audience=users[:3])
    seen = []

    def receiver(sender, notifications, kinds, **kwargs):
        seen.append((notifications, kinds))

    signals.notifications_stored.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            record = services.broadcast(title="Maintenance", body="Back soon", url="/chat/")
    finally:
        signals.notifications_stored.disconnect(receiver)
    [(rows, kinds)] = seen
    assert kinds == {"broadcast"}
    fields = [f.attname for f in Notification._meta.concrete_fields]

    def values(row):
        return [getattr(row, name) for name in fields]

    stored = list(Notification.objects.filter(broadcast=record).order_by("recipient_id"))
    assert [row.pk for row in stored] != [user.pk for user in users]
    assert len(rows) == len(stored) == 5
    assert [values(row) for row in rows] == [values(row) for row in stored]
    # Read again, by index or slice, they are the same rows; each a loaded instance.
    assert [values(row) for row in rows] == [values(rows[i]) for i in range(len(rows))]
    assert [values(row) for row in rows[1:3]] == [values(row) for row in stored[1:3]]
    assert values(rows[-1]) == values(stored[-1])
    assert all(
        not row._state.adding and row.recipient == user
        for row, user in zip(rows, users, strict=True)
    )


def test_deleting_a_user_deletes_their_notifications_and_unlinks_those_they_caused(
    alice, bob, carol
):
    # Neither link has a constraint in the database (a broadcast's commit checks
    # none per row): Django's CASCADE and SET_NULL are what keep them whole.
    services.broadcast(title="Everyone")
    services.notify(carol, title="alice waved", actor=alice)
    alice.delete()
    assert not Notification.objects.filter(recipient_id=alice.pk).exists()
    assert Notification.objects.get(recipient=carol, title="alice waved").actor_id is None
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == sorted(
        [bob.pk, carol.pk, carol.pk]
    )


def test_broadcast_to_users_reaches_exactly_them(alice, bob, carol):
    record = services.broadcast(title="You two", audience=[alice, bob])
    assert record.audience == Broadcast.Audience.USERS
    assert sorted(record.users.values_list("pk", flat=True)) == sorted([alice.pk, bob.pk])
    assert sorted(Notification.objects.values_list("recipient_id", flat=True)) == sorted(
        [alice.pk, bob.pk]
    )


def test_a_mixed_audience_is_refused(alice, staff_group):
    with pytest.raises(ValueError, match="audience"):
        services.broadcast(title="Mixed", audience=[alice, staff_group])
    assert Broadcast.objects.count() == 0


def test_a_broadcast_is_sent_once(alice):
    record = services.broadcast(title="Once")
    assert services.broadcast_send(broadcast=record) == 0
    assert Notification.objects.count() == 1


def test_mark_read_marks_only_that_one_and_returns_the_count(alice):
    first, second = (services.notify(alice, title=t)[0] for t in ("one", "two"))
    marked = services.notification_mark_read(user=alice, notification_id=first.pk)
    state, changed = marked.state, marked.changed
    assert changed and (state.count, state.last_id) == (1, second.pk)
    assert Notification.objects.get(pk=first.pk).read_at is not None
    assert Notification.objects.get(pk=second.pk).read_at is None
    changed_again = services.notification_mark_read(user=alice, notification_id=first.pk).changed
    assert not changed_again


def test_mark_read_of_someone_elses_is_not_found_and_changes_nothing(alice, bob):
    [row] = services.notify(bob, title="Bob's")
    with pytest.raises(NotificationNotFound):
        services.notification_mark_read(user=alice, notification_id=row.pk)
    assert Notification.objects.get(pk=row.pk).read_at is None


def test_mark_all_read_touches_only_that_user(alice, bob):
    services.notify([alice, bob], title="Both")
    services.notify(alice, title="Alice again")
    marked = services.notification_mark_all_read(user=alice)
    state, changed = marked.state, marked.changed
    assert changed and state.count == 0
    assert alice.notifications.filter(read_at__isnull=True).count() == 0
    assert bob.notifications.filter(read_at__isnull=True).count() == 1


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
def test_unread_count_is_an_index_read_not_a_scan(alice):
    from notifications import selectors

    services.notify(alice, title="x")
    with CaptureQueriesContext(connection) as context:
        assert selectors.unread_count(user=alice) == 1
    [query] = context.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
        plan = " ".join(str(row[-1]) for row in cursor.fetchall())
    assert "notif_recipient_unread" in plan, plan
    assert "SCAN" not in plan, plan


@pytest.mark.django_db(transaction=True)
async def test_anotify_works_from_async_code(alice):
    rows = await services.anotify(alice, title="From a consumer")
    assert len(rows) == 1


@pytest.mark.django_db(transaction=True)
async def test_abroadcast_works_from_async_code(alice):
    record = await services.abroadcast(title="From async")
    assert record.recipient_count == 1
