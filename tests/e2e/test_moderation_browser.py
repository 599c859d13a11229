"""Moderation in real browsers on two workers: the owner pins a message and the
pinned list in the header changes live on every page (and is there for a page
opened later); slow mode shows its countdown in the composer, starting from
what the server says."""

import re

import pytest

from harness.browser import (
    assert_nothing_went_wrong,
    count_messages,
    frames_of_type,
    message_with,
    say,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e


def test_pinning_shows_live_in_every_pages_header(stack, users, room, open_room, screenshot):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)
    for user in (alice, bob):
        expect(user.page.locator("#pinned")).to_be_hidden()

    say(bob, "read the <rules> first")
    mine = message_with(alice, "read the <rules> first")
    expect(mine).to_have_count(1)
    # A member has no pin action; the owner has.
    bobs = message_with(bob, "read the <rules> first")
    bobs.hover()
    expect(bobs.locator(".act-pin")).to_have_count(0)
    mine.hover()
    mine.get_by_role("button", name="Pin or unpin").click()

    for user in (alice, bob):
        pinned = user.page.locator("#pinned")
        expect(pinned).to_be_visible()
        item = pinned.locator("li.pinned-item")
        expect(item).to_have_count(1)
        expect(item.locator(".pinned-author")).to_have_text("bob")
        # User text stays text.
        expect(item.locator(".pinned-excerpt")).to_have_text("read the <rules> first")
    expect(mine.locator(".act-pin")).to_have_attribute("aria-pressed", "true")
    screenshot(bob, "pinned")

    # A page opened later gets the list in hello.
    late = bob.new_tab(f"{a.url}/chat/{room}/")
    expect(late.page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(late.page.locator("#pinned li.pinned-item")).to_have_count(1)
    expect(late.page.locator("#pinned .pinned-unpin")).to_have_count(0)

    # The owner unpins from the header: gone everywhere.
    alice.page.locator("#pinned .pinned-unpin").click()
    for user in (alice, bob, late):
        expect(user.page.locator("#pinned")).to_be_hidden()
    assert_nothing_went_wrong(alice, bob, late)


def test_slow_mode_countdown_starts_from_the_server(stack, users, room, open_room, screenshot):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)

    # The owner turns slow mode on from the room page; bob's page hears it live.
    alice.page.get_by_label("Slow mode").select_option("60")
    alice.page.get_by_role("button", name="Set", exact=True).click()
    expect(alice.page.locator("#connection")).to_have_attribute("data-state", "connected")
    slow = bob.page.locator("#slow-mode")
    expect(slow).to_be_visible()
    expect(slow).to_contain_text("60 s between messages")
    # The owner is exempt: no countdown on her page.
    expect(alice.page.locator("#slow-mode")).to_be_hidden()

    say(bob, "first under slow mode")
    expect(message_with(alice, "first under slow mode")).to_have_count(1)
    expect(slow).to_have_attribute("data-waiting", "true")
    expect(slow).to_contain_text(re.compile(r"send again in (5\d|60) s"))
    # While it counts, Enter keeps the text in the box and sends nothing.
    say(bob, "too soon")
    expect(bob.page.locator("#composer-body")).to_have_value("too soon")
    assert not [f for f in frames_of_type(bob.sent, "send") if f["body"] == "too soon"]

    # A page that knows nothing of the wait sends; the server refuses it and
    # says how long is left: the countdown starts from that.
    other = bob.new_tab(f"{b.url}/chat/{room}/")
    expect(other.page.locator("#connection")).to_have_attribute("data-state", "connected")
    say(other, "from another tab")
    countdown = other.page.locator("#slow-mode")
    expect(countdown).to_have_attribute("data-waiting", "true")
    expect(countdown).to_contain_text(re.compile(r"send again in [1-6]?\d s"))
    expect(other.page.locator("#composer-body")).to_have_value("from another tab")
    refused = [f for f in frames_of_type(other.received, "error") if f["code"] == "slow_mode"]
    assert refused and 0 < refused[0]["retry_after"] <= 60
    assert count_messages(stack, room, "from another tab") == 0
    screenshot(other, "slow-mode")
    assert_nothing_went_wrong(alice, bob, other)
