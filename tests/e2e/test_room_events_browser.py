"""Replies, reactions, edits and deletions between two users in real browsers,
on two workers: what each page shows, live and after a reconnect."""

import re

import pytest

from harness.browser import (
    MESSAGE_BODIES,
    RECONNECT_TIMEOUT_MS,
    assert_nothing_went_wrong,
    message_with,
    say,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e


def act(user, item, name: str) -> None:
    item.hover()
    item.get_by_role("button", name=name, exact=True).click()


def test_reply_react_edit_and_delete_between_two_users(stack, users, room, open_room, screenshot):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)

    say(bob, "the **original** message")
    for user in (alice, bob):
        expect(message_with(user, "the original message").locator(".body strong")).to_have_text(
            "original"
        )

    # alice replies: the composer says to whom; both pages quote the original.
    act(alice, message_with(alice, "the original"), "Reply")
    expect(alice.page.locator("#composer-mode")).to_contain_text("Replying to bob")
    say(alice, "a reply")
    expect(alice.page.locator("#composer-mode")).to_be_hidden()
    for user in (alice, bob):
        quote = message_with(user, "a reply").locator(".reply-quote")
        expect(quote).to_contain_text("bob")
        expect(quote).to_contain_text("the **original** message")
    message_with(bob, "a reply").locator(".reply-quote").click()
    expect(message_with(bob, "the original")).to_have_class(re.compile(r"\bflash\b"))

    # alice reacts from the picker; bob sees who, adds his, takes it back.
    act(alice, message_with(alice, "the original"), "Add reaction")
    alice.page.get_by_role("menuitem", name="React with 👍").click()
    chip = message_with(bob, "the original").locator(".reaction")
    expect(chip).to_have_count(1)
    expect(chip.locator(".count")).to_have_text("1")
    expect(chip).to_have_attribute("aria-pressed", "false")
    expect(chip).to_have_attribute("title", "alice reacted with 👍")
    chip.click()
    expect(chip.locator(".count")).to_have_text("2")
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(message_with(alice, "the original").locator(".reaction")).to_have_attribute(
        "title", "You and bob reacted with 👍"
    )
    chip.click()
    expect(chip.locator(".count")).to_have_text("1")
    expect(chip).to_have_attribute("aria-pressed", "false")

    # Only the author edits; the owner (alice) may delete anyone's message.
    alices_view = message_with(alice, "the original")
    alices_view.hover()
    expect(alices_view.get_by_role("button", name="Edit", exact=True)).to_be_hidden()
    expect(alices_view.get_by_role("button", name="Delete", exact=True)).to_be_visible()
    bobs_view_of_reply = message_with(bob, "a reply")
    bobs_view_of_reply.hover()
    expect(bobs_view_of_reply.get_by_role("button", name="Edit", exact=True)).to_be_hidden()
    expect(bobs_view_of_reply.get_by_role("button", name="Delete", exact=True)).to_be_hidden()

    # bob edits: Escape cancels, Enter saves; both see the text and "edited".
    act(bob, message_with(bob, "the original"), "Edit")
    box = bob.page.locator("#composer-body")
    expect(box).to_have_value("the **original** message")
    box.press("Escape")
    expect(box).to_have_value("")
    expect(bob.page.locator("#composer-mode")).to_be_hidden()
    act(bob, message_with(bob, "the original"), "Edit")
    box.fill("the fixed message")
    box.press("Enter")
    for user in (alice, bob):
        fixed = message_with(user, "the fixed message")
        expect(fixed.locator(".edited")).to_be_visible()
        expect(fixed.locator(".edited")).to_have_attribute("title", re.compile(r"^Edited "))
        expect(fixed.locator(".reaction .count")).to_have_text("1")
    screenshot(alice, "alice-edited")

    # bob deletes it, after confirming; the reply now quotes a deleted message.
    act(bob, message_with(bob, "the fixed message"), "Delete")
    dialog = bob.page.locator("#delete-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Delete").click()
    for user in (alice, bob):
        expect(user.page.locator("#messages li.message.deleted .body")).to_have_text(
            "message deleted"
        )
        expect(message_with(user, "a reply").locator(".reply-quote")).to_contain_text(
            "deleted message"
        )
    expect(bob.page.locator(MESSAGE_BODIES)).to_have_count(2)

    screenshot(bob, "bob")
    assert_nothing_went_wrong(alice, bob)


def test_mentions_of_me_stand_out(stack, users, room, open_room):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)
    say(bob, "hey @alice look")
    mine = message_with(alice, "look")
    expect(mine).to_have_class(re.compile(r"\bmentions-me\b"))
    expect(mine.locator(".mention.me")).to_have_text("@alice")
    expect(message_with(bob, "look")).not_to_have_class(re.compile(r"\bmentions-me\b"))
    assert_nothing_went_wrong(alice, bob)


def test_keyboard_reaches_every_action(stack, users, room, open_room):
    a = stack.workers[0]
    alice = open_room("alice", room, a)
    say(alice, "by keyboard")
    item = message_with(alice, "by keyboard")
    expect(item).to_have_count(1)
    alice.page.locator("#messages").focus()
    alice.page.keyboard.press("ArrowUp")
    expect(item).to_be_focused()
    alice.page.keyboard.press("Tab")
    expect(item.get_by_role("button", name="Reply", exact=True)).to_be_focused()
    alice.page.keyboard.press("Tab")
    react = item.get_by_role("button", name="Add reaction", exact=True)
    expect(react).to_be_focused()
    alice.page.keyboard.press("Enter")
    expect(alice.page.get_by_role("menuitem", name="React with 👍")).to_be_focused()
    alice.page.keyboard.press("ArrowRight")
    alice.page.keyboard.press("Enter")
    expect(item.locator(".reaction")).to_have_text(re.compile("❤️\\s*1"))
    expect(react).to_be_focused()
    alice.page.keyboard.press("Tab")
    expect(item.get_by_role("button", name="Edit", exact=True)).to_be_focused()
    alice.page.keyboard.press("Tab")
    expect(item.get_by_role("button", name="Delete", exact=True)).to_be_focused()
    alice.page.keyboard.press("Enter")
    expect(alice.page.locator("#delete-dialog")).to_be_visible()
    alice.page.keyboard.press("Escape")
    expect(alice.page.locator("#delete-dialog")).to_be_hidden()
    expect(item.locator(".body")).to_have_text("by keyboard")
    assert_nothing_went_wrong(alice)


def test_changes_made_while_away_show_after_the_reconnect(stack, users, room, open_room):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)
    say(bob, "before the outage")
    expect(message_with(alice, "before the outage")).to_have_count(1)

    a.stop()
    act(bob, message_with(bob, "before the outage"), "Edit")
    box = bob.page.locator("#composer-body")
    box.fill("changed during the outage")
    box.press("Enter")
    expect(message_with(bob, "changed during the outage").locator(".edited")).to_be_visible()
    act(bob, message_with(bob, "changed during the outage"), "Add reaction")
    bob.page.get_by_role("menuitem", name="React with 🎉").click()
    expect(message_with(bob, "changed during the outage").locator(".reaction")).to_have_count(1)
    a.start()

    expect(alice.page.locator("#connection")).to_have_attribute(
        "data-state", "connected", timeout=RECONNECT_TIMEOUT_MS
    )
    changed = message_with(alice, "changed during the outage")
    expect(changed.locator(".edited")).to_be_visible()
    expect(changed.locator(".reaction .count")).to_have_text("1")
    assert_nothing_went_wrong(alice, bob)
