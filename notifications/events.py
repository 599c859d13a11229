"""The only place notification events are built and sent to the channel layer
(realtime.push: after commit, one failure policy).

A batch of notifications that share their content (one `notify` call, one
broadcast) travels as one `notifications.batch` event per audience group:

    {"type": "notifications.batch",
     "content": '{"title":…,"body":…,"level":…,"url":…,"created_at":…}',
     "users": [3, 5, 9, …],          # recipients' user ids, ascending
     "ids": [[0, 1201], [2, 1305]]}  # runs: users[i] got id first + (i - start)
                                     # for the last run [start, first] with start <= i

Every socket of an audience member finds its user id in `users` (binary search)
and derives its notification id from `ids`; it keeps its unread count in memory,
so forwarding needs no database query. Rows of one INSERT get consecutive ids,
so a batch is usually one run per INSERT, and the event stays a few bytes per
recipient: one message per audience group, not one per recipient.
"""

from collections.abc import Iterable
from typing import Any

from realtime.push import Push, send_all_on_commit

BATCH = "notifications.batch"
UNREAD = "notifications.unread"
GROUPS_CHANGED = "notifications.groups_changed"

ALL_USERS_GROUP = "notifications.all"
# Up to this many explicit recipients get one event each in their own group;
# more share one event in ALL_USERS_GROUP.
PER_USER_PUSH_MAX = 50


def recipient_group(user_id: int) -> str:
    """Every notification socket of one user (not their room sockets)."""
    return f"notifications.user.{user_id}"


def audience_group(group_id: int) -> str:
    """Every notification socket of the members of one Django Group."""
    return f"notifications.group.{group_id}"


def id_runs(pairs: list[tuple[int, int]]) -> list[list[int]]:
    """Compress (user id, notification id) pairs, sorted by user id, into runs."""
    runs: list[list[int]] = []
    previous = None
    for index, (_, notification_id) in enumerate(pairs):
        if previous is None or notification_id != previous + 1:
            runs.append([index, notification_id])
        previous = notification_id
    return runs


def notifications_created(
    *,
    content: str,
    pairs: Iterable[tuple[int, int]],
    everyone: bool = False,
    group_ids: Iterable[int] = (),
    broadcast_id: int | None = None,
) -> Push | None:
    """Deliver one batch, after commit, to every socket of its recipients.

    `pairs` are (user id, notification id). `everyone`: the recipients are all
    active users; `group_ids`: they are the members of these groups; neither:
    an explicit list of users.
    """
    pairs = sorted(pairs)
    if not pairs:
        return None
    group_ids = sorted(set(group_ids))

    def batch(subset: list[tuple[int, int]]) -> dict[str, Any]:
        event: dict[str, Any] = {
            "type": BATCH,
            "content": content,
            "users": [user_id for user_id, _ in subset],
            "ids": id_runs(subset),
        }
        if broadcast_id is not None:
            event["broadcast"] = broadcast_id
        return event

    messages: list[tuple[str, Any]]
    if everyone or (not group_ids and len(pairs) > PER_USER_PUSH_MAX):
        messages = [(ALL_USERS_GROUP, batch(pairs))]
    elif group_ids:
        event = batch(pairs)
        messages = [(audience_group(group_id), event) for group_id in group_ids]
    else:
        messages = [(recipient_group(user_id), batch([(user_id, nid)])) for user_id, nid in pairs]
    return send_all_on_commit(messages)


def notification_grown(*, content: str, user_id: int, notification_id: int, replaces: int) -> Push:
    """Deliver, after commit, a grouped notification that replaces `replaces`:
    a batch of one whose `replaces` tells sockets the unread count stays."""
    event = {
        "type": BATCH,
        "content": content,
        "users": [user_id],
        "ids": [[0, notification_id]],
        "replaces": replaces,
    }
    return send_all_on_commit([(recipient_group(user_id), event)])


def unread_changed(
    *, user_id: int, count: int, last_id: int, read: list[int] | None = None, read_all: bool = False
) -> None:
    """Tell every socket of the user the new unread count after reading, after commit."""
    event: dict[str, Any] = {
        "type": UNREAD,
        "count": count,
        "last_id": last_id,
        "read_all": read_all,
    }
    if read:
        event["read"] = list(read)
    send_all_on_commit([(recipient_group(user_id), event)])


def groups_changed(*, user_ids: Iterable[int]) -> None:
    """Make the users' sockets re-read which group audiences they belong to, after commit."""
    send_all_on_commit(
        [(recipient_group(user_id), {"type": GROUPS_CHANGED}) for user_id in user_ids]
    )
