"""`manage.py notify`."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from notifications.models import Broadcast, Notification

pytestmark = pytest.mark.django_db


def recipients() -> list[str]:
    return sorted(Notification.objects.values_list("recipient__username", flat=True))


def test_notify_all_reaches_every_active_user(alice, bob, make_user, capsys):
    make_user("gone", is_active=False)
    call_command("notify", "--all", "--title", "Hello all", "--level", "success")
    assert recipients() == ["alice", "bob"]
    assert Broadcast.objects.get().recipient_count == 2
    assert "Sent to 2 users" in capsys.readouterr().out


def test_notify_group_reaches_its_members(alice, bob):
    team = Group.objects.create(name="team")
    alice.groups.add(team)
    call_command("notify", "--group", "team", "--title", "Team", "--url", "/chat/team/")
    assert recipients() == ["alice"]
    assert Notification.objects.get().url == "/chat/team/"


def test_notify_users_reaches_exactly_them(alice, bob, carol):
    call_command("notify", "--user", "alice", "--user", "carol", "--title", "Hi", "--body", "b")
    assert recipients() == ["alice", "carol"]


@pytest.mark.parametrize(
    "args",
    [
        ["--user", "nobody", "--title", "Hi"],
        ["--group", "nogroup", "--title", "Hi"],
        ["--all", "--title", ""],
        ["--all", "--title", "Hi", "--url", "https://evil.example/"],
        ["--all", "--title", "Hi", "--level", "critical"],
        ["--title", "Hi"],
        ["--all", "--user", "alice", "--title", "Hi"],
    ],
)
def test_bad_arguments_are_command_errors_and_send_nothing(alice, args):
    with pytest.raises(CommandError):
        call_command("notify", *args)
    assert Notification.objects.count() == 0 and Broadcast.objects.count() == 0
