"""The room page in a real browser: live chat, hostile text, server restarts and
the outbox, each user in their own browser context, logged in through the form."""

import re
import signal
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from harness.browser import (
    MESSAGE_AUTHORS,
    MESSAGE_BODIES,
    RECONNECT_TIMEOUT_MS,
    assert_in_order_without_duplicates,
    assert_nothing_went_wrong,
    count_messages,
    frames_of_type,
    mark_all_read,
    post_messages,
    say,
    shown,
)

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e


def test_two_users_see_each_others_messages_live(stack, users, room, open_room, screenshot):
    a, b = stack.workers
    # alice reads in India's time zone with 24-hour clocks: times must be hers, not UTC.
    alice = open_room("alice", room, a, timezone_id="Asia/Kolkata", locale="en-GB")
    bob = open_room("bob", room, b)

    alice_online = bob.page.locator(f'#members li[data-user-id="{users["alice"]}"]')
    expect(alice_online).to_have_class(re.compile(r"\bonline\b"))

    alice.page.locator("#composer-body").press_sequentially("Hi Bob", delay=20)
    expect(bob.page.locator("#typing")).to_have_text("alice is typing…")
    alice.page.locator("#composer-body").press("Enter")
    expect(bob.page.locator(MESSAGE_BODIES)).to_have_text(["Hi Bob"])
    say(bob, "Hello Alice!\nTwo lines here.")
    # Alice answers what she has read: her send must not race bob's for the next seq.
    expect(alice.page.locator(MESSAGE_BODIES)).to_have_text(
        ["Hi Bob", "Hello Alice!\nTwo lines here."]
    )
    say(alice, "How are you?")

    conversation = ["Hi Bob", "Hello Alice!\nTwo lines here.", "How are you?"]
    for user in (alice, bob):
        expect(user.page.locator(MESSAGE_BODIES)).to_have_text(conversation)
        expect(user.page.locator(MESSAGE_AUTHORS)).to_have_text(["alice", "bob", "alice"])
        assert_in_order_without_duplicates(user)
    expect(bob.page.locator("#typing")).to_have_text("")

    first_time = alice.page.locator("#messages li.message time").first
    created = datetime.fromisoformat(first_time.get_attribute("datetime"))
    local = created.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M")
    expect(first_time).to_have_text(local)

    screenshot(alice, "alice")
    screenshot(bob, "bob")
    assert_nothing_went_wrong(alice, bob)


def test_hostile_text_shows_as_text_and_runs_nothing(stack, room, open_room, screenshot):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)
    hostile = "<img src=x onerror=alert(1)>"

    say(alice, hostile)
    say(alice, '<script>alert("again")</script> & <b>bold?</b>')

    for user in (alice, bob):
        expect(user.page.locator(MESSAGE_BODIES).first).to_have_text(hostile)
        expect(user.page.locator(MESSAGE_BODIES)).to_have_count(2)
        expect(user.page.locator("#messages img, #messages script, #messages b")).to_have_count(0)
    # Reload: the server-rendered history must be just as inert.
    bob.page.reload()
    expect(bob.page.locator("#connection")).to_have_attribute("data-state", "connected")
    expect(bob.page.locator(MESSAGE_BODIES).first).to_have_text(hostile)
    expect(bob.page.locator("#messages img, #messages script, #messages b")).to_have_count(0)
    bob.page.wait_for_timeout(500)  # an onerror would have fired by now

    screenshot(bob, "bob")
    assert_nothing_went_wrong(alice, bob)


def test_restart_shows_reconnecting_then_every_missed_message(stack, room, open_room, screenshot):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)
    say(bob, "before the restart")
    expect(alice.page.locator(MESSAGE_BODIES)).to_have_text(["before the restart"])

    a.stop()
    expect(alice.page.locator("#connection")).to_contain_text(
        "Reconnecting in", timeout=RECONNECT_TIMEOUT_MS
    )
    expect(alice.page.locator("#retry")).to_be_visible()
    missed = [f"missed {n}" for n in range(1, 6)]
    for body in missed:
        say(bob, body)
    expect(bob.page.locator(MESSAGE_BODIES)).to_have_text(["before the restart", *missed])
    a.start()

    expect(alice.page.locator("#connection")).to_have_attribute(
        "data-state", "connected", timeout=RECONNECT_TIMEOUT_MS
    )
    expect(alice.page.locator(MESSAGE_BODIES)).to_have_text(["before the restart", *missed])
    assert_in_order_without_duplicates(alice)
    assert [body for _, _, body in shown(alice)] == ["before the restart", *missed]

    screenshot(alice, "alice")
    assert_nothing_went_wrong(alice, bob)


def test_message_typed_offline_is_sent_once_when_back(stack, room, open_room, screenshot):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)
    body = "typed while the server was down"

    a.stop(sig=signal.SIGKILL)  # a crash, not a clean shutdown
    expect(alice.page.locator("#connection")).not_to_have_attribute(
        "data-state", "connected", timeout=RECONNECT_TIMEOUT_MS
    )
    say(alice, body)
    pending = alice.page.locator("#messages li.message.pending")
    expect(pending).to_have_count(1)
    expect(pending.locator(".body")).to_have_text(body)
    screenshot(alice, "alice-pending")
    a.start()

    expect(alice.page.locator("#connection")).to_have_attribute(
        "data-state", "connected", timeout=RECONNECT_TIMEOUT_MS
    )
    expect(pending).to_have_count(0)
    for user in (alice, bob):
        expect(user.page.locator(MESSAGE_BODIES)).to_have_text([body])
    # A late duplicate would arrive within moments of the resend.
    time.sleep(1.5)
    for user in (alice, bob):
        expect(user.page.locator(MESSAGE_BODIES)).to_have_text([body])
    assert count_messages(stack, room, body) == 1

    screenshot(alice, "alice")
    assert_nothing_went_wrong(alice, bob)


def test_older_messages_load_from_the_button_and_by_scrolling_up(
    stack, room, open_room, screenshot
):
    bodies = [f"history {n}" for n in range(1, 131)]
    post_messages(stack, room, "bob", bodies)
    mark_all_read(stack, room, "alice")
    alice = open_room("alice", room, stack.workers[0])
    expect(alice.page.locator(MESSAGE_BODIES)).to_have_count(50)

    alice.page.get_by_role("button", name="Load older messages").click()
    # The click loads a page; the list may then still be scrolled to its top
    # (the click scrolled the button into view), which loads the next one too.
    expect(alice.page.locator(MESSAGE_BODIES)).not_to_have_count(50)
    assert alice.page.locator(MESSAGE_BODIES).count() in (100, 130)
    alice.page.locator("#messages").evaluate("list => { list.scrollTop = 0; }")
    expect(alice.page.locator(MESSAGE_BODIES)).to_have_text(bodies)
    expect(alice.page.locator("#load-older")).to_be_hidden()
    assert_in_order_without_duplicates(alice)

    screenshot(alice, "alice")
    assert_nothing_went_wrong(alice)


def test_long_outage_resume_fills_everything_past_truncation(stack, room, open_room, screenshot):
    a = stack.workers[0]
    alice = open_room("alice", room, a)
    missed = [f"while away {n}" for n in range(1, 621)]  # over the 500 a resume returns

    a.stop()
    post_messages(stack, room, "bob", missed)
    a.start()
    alice.page.locator("#retry").evaluate("button => button.click()")  # "Retry now"

    expect(alice.page.locator("#connection")).to_have_attribute(
        "data-state", "connected", timeout=RECONNECT_TIMEOUT_MS
    )
    expect(alice.page.locator(MESSAGE_BODIES)).to_have_text(missed, timeout=20_000)
    assert_in_order_without_duplicates(alice)

    screenshot(alice, "alice")
    assert_nothing_went_wrong(alice)


RATE_LIMIT, RATE_WINDOW = 20, 10  # the server's default: 20 sends per 10 s per user


def test_sends_over_the_rate_limit_wait_retry_after_then_go_in_order(
    stack, room, open_room, screenshot, password
):
    a, b = stack.workers
    stack.create_user("carol", password)  # a limit of her own, untouched by the other tests
    carol = open_room("carol", room, a)
    alice = open_room("alice", room, b)
    bodies = [f"burst {n}" for n in range(1, RATE_LIMIT + 6)]

    started = time.time()
    for body in bodies:
        say(carol, body)
    burst = time.time() - started
    assert burst < RATE_WINDOW - 4, f"the burst took {burst:.1f} s: too slow to test"

    held = carol.page.locator("#messages li.message.pending")
    expect(held).to_have_count(5)
    expect(held.locator(".status")).to_have_text(["waiting…"] * 5)
    expect(carol.page.locator("#composer-error")).to_contain_text("Sending too fast")
    # The countdown ticks each second.
    counting = carol.page.locator("#composer-error").inner_text()
    expect(carol.page.locator("#composer-error")).not_to_have_text(counting, timeout=3_000)
    expect(alice.page.locator(MESSAGE_BODIES)).to_have_text(bodies[:RATE_LIMIT])
    screenshot(carol, "carol-waiting")

    for user in (carol, alice):
        expect(user.page.locator(MESSAGE_BODIES)).to_have_text(
            bodies, timeout=(RATE_WINDOW + 10) * 1000
        )
        assert_in_order_without_duplicates(user)
    expect(held).to_have_count(0)
    expect(carol.page.locator("#connection")).to_have_attribute("data-state", "connected")

    # Each refusal named a wait within the window and cost one resend; no
    # message was stored twice, and the limit held over every 10 s (sliding).
    refusals = [f for f in frames_of_type(carol.received, "error") if f["code"] == "rate_limited"]
    assert refusals, "the burst was never refused"
    assert {f["client_id"] for f in refusals} <= {
        f["client_id"] for f in frames_of_type(carol.sent, "send")
    }
    assert all(0 < f["retry_after"] <= RATE_WINDOW for f in refusals), refusals
    assert len(frames_of_type(carol.sent, "send")) == len(bodies) + len(refusals)
    stored = stack.shell(
        "from chat.models import Message\n"
        "rows = Message.objects.filter(room__slug=args['slug']).order_by('seq')\n"
        "print(json.dumps([[m.body, m.created_at.timestamp()] for m in rows]))",
        slug=room,
    )
    assert [body for body, _ in stored] == bodies
    times = [at for _, at in stored]
    # Admission is timed by Redis, these stamps by the database after it: slack
    # for the time a send takes. A fixed window would show 2x in a moment.
    spans = [late - early for early, late in zip(times, times[RATE_LIMIT:], strict=False)]
    assert min(spans) > RATE_WINDOW - 1, spans

    screenshot(carol, "carol")
    assert_nothing_went_wrong(carol, alice)
