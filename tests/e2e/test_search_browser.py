"""Message search in a real browser against Daphne workers: the room header's
box, the results page (marked words, user text as text, filters' errors), and
a result opening its room at an old message that the first page of the room
would not hold."""

import re

import pytest

from harness.accessibility import axe_violations
from harness.browser import assert_nothing_went_wrong, mark_all_read, post_messages

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e

HOSTILE = '<img src=x onerror="alert(1)"> zebra <script>alert(2)</script>'


def private_room_of(stack, owner: str, name: str, body: str) -> str:
    """A private room of `owner` alone, with one message; its slug."""
    return stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from chat import services\n"
        "owner = get_user_model().objects.get(username=args['owner'])\n"
        "room = services.room_create(name=args['name'], private=True, created_by=owner)\n"
        "services.message_create(room=room, author=owner, body=args['body'], client_id='p1')\n"
        "print(json.dumps(room.slug))",
        owner=owner,
        name=name,
        body=body,
    )


def test_room_search_box_finds_an_old_message_and_opens_the_room_at_it(stack, room, open_room):
    worker = stack.workers[0]
    bodies = [f"filler line {n}" for n in range(1, 121)]
    bodies[4] = "the unicorn plan, first draft"
    post_messages(stack, room, "alice", bodies)
    # All read: the room page does not page back to a first unread message.
    mark_all_read(stack, room, "bob")
    bob = open_room("bob", room, worker)
    page = bob.page
    # The first page holds the latest messages only.
    expect(page.locator("#messages li.message[data-seq='71']")).to_have_count(1)
    assert page.locator("#messages li.message[data-seq='5']").count() == 0

    box = page.get_by_role("searchbox", name="Search this room")
    box.fill("unicorn")
    box.press("Enter")
    page.wait_for_url(re.compile(r"/chat/search/\?"))
    results = page.locator("#search-results li.search-hit")
    expect(results).to_have_count(1)
    expect(results.first.locator("mark")).to_have_text("unicorn")
    expect(results.first).to_contain_text("alice")

    results.first.locator("a").click()
    page.wait_for_url(re.compile(rf"/chat/{room}/\?at=5$"))
    target = page.locator("#messages li.message[data-seq='5']")
    expect(target).to_contain_text("the unicorn plan")
    expect(target).to_be_in_viewport()
    expect(target).to_be_focused()
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    # The newer messages fill in below; the reader stays at the one they came for.
    expect(page.locator("#messages li.message[data-seq='120']")).to_have_count(1)
    expect(target).to_be_in_viewport()
    seqs = page.eval_on_selector_all(
        "#messages li.message[data-seq]", "items => items.map(li => Number(li.dataset.seq))"
    )
    assert seqs == list(range(1, 121))
    assert_nothing_went_wrong(bob)


def test_search_page_shows_user_text_as_text_and_only_rooms_one_may_read(
    stack, room, open_room, password
):
    worker = stack.workers[0]
    post_messages(stack, room, "alice", [HOSTILE])
    private_room_of(stack, "alice", "Alice alone", "zebra in private")
    bob = open_room("bob", room, worker)
    page = bob.page
    page.goto(f"{worker.url}/chat/search/?q=zebra")
    results = page.locator("#search-results li.search-hit")
    expect(results).to_have_count(1)
    expect(results.first.locator(".search-snippet")).to_contain_text(
        '<img src=x onerror="alert(1)">'
    )
    expect(results.first.locator(".search-snippet mark")).to_have_text("zebra")
    expect(page.locator("#search-results img, #search-results script")).to_have_count(0)
    assert axe_violations(page) == []
    assert_nothing_went_wrong(bob)


def test_search_page_explains_bad_input(stack, room, log_in):
    worker = stack.workers[0]
    bob = log_in("bob", "/chat/search/", worker)
    page = bob.page
    page.get_by_role("searchbox", name="Search messages").fill("anything")
    page.get_by_label("From").fill("nobody-at-all")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#author-error")).to_contain_text("There is no user nobody-at-all")
    page.get_by_role("searchbox", name="Search messages").fill("")
    page.get_by_label("From").fill("")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#q-error")).to_contain_text("Type a word to search for")
    page.goto(f"{worker.url}/chat/search/?q=x&after=not-a-day&room=no-such-room")
    expect(page.locator("#after-error")).to_contain_text("YYYY-MM-DD")
    expect(page.locator("#room-error")).to_contain_text("no-such-room")
    assert axe_violations(page) == []
    assert_nothing_went_wrong(bob)
