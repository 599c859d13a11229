"""notifications.selectors: the reads every notifications socket's hello makes."""

import pytest
from django.contrib.auth.models import Group

from notifications import selectors, services

pytestmark = pytest.mark.django_db


def test_unread_state_counts_the_unread_up_to_the_newest(alice, bob):
    assert selectors.unread_state(user=alice) == selectors.UnreadState(count=0, last_id=0)
    _, second, third = (services.notify([alice], title=f"n{n}")[0] for n in range(3))
    services.notify([bob], title="not alice's")
    services.notification_mark_read(user=alice, notification_id=second.pk)

    assert selectors.unread_state(user=alice) == selectors.UnreadState(count=2, last_id=third.pk)
    assert selectors.unread_state(user=alice).count == selectors.unread_count(user=alice)


def test_group_ids_are_the_users_groups_in_order(alice, bob):
    groups = [Group.objects.create(name=name) for name in ("b", "a", "c")]
    alice.groups.add(groups[2], groups[0])

    assert selectors.group_ids(user=alice) == sorted([groups[0].pk, groups[2].pk])
    assert selectors.group_ids(user=bob) == []
