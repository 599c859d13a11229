"""The pages around a room in a real browser, two users on two workers: the room
list kept live, "Seen by", and online elsewhere vs here now."""

import re

import pytest

from harness.browser import say

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e


def stream_connected(user) -> None:
    expect(user.page.locator("#notif-bell")).to_have_attribute("data-state", "connected")


def test_the_room_list_updates_live_and_reading_clears_it(stack, users, room, log_in, open_room):
    a, b = stack.workers
    bob = log_in("bob", "/chat/", b)
    stream_connected(bob)
    row = bob.page.locator(f'#rooms li.room-row[data-room="{room}"]')
    expect(row.locator(".badge")).to_be_hidden()

    alice = open_room("alice", room, a)
    say(alice, "Fresh news for the list")
    expect(row.locator(".last-body")).to_have_text("Fresh news for the list")
    expect(row.locator(".last-author")).to_have_text("alice:")
    expect(row.locator(".badge-n")).to_have_text("1")
    expect(row).to_have_class(re.compile(r"\bhas-unread\b"))
    expect(bob.page.locator("#rooms li.room-row").first).to_have_attribute("data-room", room)
    expect(bob.page).to_have_title(re.compile(r"^\(\d+\) Rooms"))

    # Reading the room in another tab clears the count in this one.
    tab = bob.new_tab(f"{b.url}/chat/{room}/")
    expect(tab.page.locator("#connection")).to_have_attribute("data-state", "connected")
    tab.page.bring_to_front()
    expect(row.locator(".badge")).to_be_hidden()
    assert bob.errors == [] and alice.errors == []


def test_seen_by_appears_when_bob_reads(stack, users, room, open_room):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    say(alice, "Did you see this?")
    expect(alice.page.locator("#messages li.message:not(.pending)")).to_have_count(1)
    expect(alice.page.locator("#seen-by")).to_be_hidden()

    bob = open_room("bob", room, b)
    bob.page.bring_to_front()
    expect(alice.page.locator("#seen-by")).to_have_text("Seen by bob")
    assert bob.errors == [] and alice.errors == []


def test_bob_in_another_room_is_online_elsewhere_in_alices_dm(stack, users, room, open_room):
    a, b = stack.workers
    dm = stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from chat import services\n"
        "alice = get_user_model().objects.get(username='alice')\n"
        "print(json.dumps(services.direct_room_open(user=alice, username='bob').slug))"
    )
    open_room("bob", room, b)
    alice = open_room("alice", dm, a)
    bob_item = alice.page.locator(f'#members li[data-user-id="{users["bob"]}"]')
    expect(bob_item).to_have_class(re.compile(r"\belsewhere\b"))
    expect(bob_item).not_to_have_class(re.compile(r"\bonline\b"))
    expect(bob_item.locator(".presence")).to_have_text(" (online elsewhere)")
    me = alice.page.locator(f'#members li[data-user-id="{users["alice"]}"]')
    expect(me.locator(".presence")).to_have_text(" (here now)")
    assert alice.errors == []
