"""Every page in a real browser: no serious or critical axe-core violation, and
the page-level details (confirmations, logout, the 404 page, the favicon, rows
that tell rooms of one name apart, toasts and tap targets on a phone, presence
while the server is away, the composer's limit, @mention autocomplete)."""

import re

import pytest

from harness.accessibility import axe_violations

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 740}, "is_mobile": True, "has_touch": True}
TAP_MIN_PX = 44


def assert_accessible(page, name: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{name}: {violations}"


def shell_user(stack, username: str, password: str, *, staff: bool = False) -> int:
    return stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "users = get_user_model().objects\n"
        "user = users.filter(username=args['username']).first()\n"
        "if user is None:\n"
        "    make = users.create_superuser if args['staff'] else users.create_user\n"
        "    user = make(args['username'], password=args['password'])\n"
        "print(json.dumps(user.pk))",
        username=username,
        password=password,
        staff=staff,
    )


def private_room(stack, name: str, owner: str) -> str:
    return stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from chat import services\n"
        "owner = get_user_model().objects.get(username=args['owner'])\n"
        "room = services.room_create(name=args['name'], private=True, created_by=owner)\n"
        "print(json.dumps(room.slug))",
        name=name,
        owner=owner,
    )


def notify(stack, username: str, title: str) -> None:
    stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from notifications import services\n"
        "user = get_user_model().objects.get(username=args['username'])\n"
        "services.notify(user, title=args['title'])\n"
        "print(json.dumps(1))",
        username=username,
        title=title,
    )


def test_every_page_has_no_serious_accessibility_violation(
    stack, users, room, browser, log_in, password
):
    worker = stack.workers[0]
    anonymous = browser.new_context()
    try:
        page = anonymous.new_page()
        for name, path in [
            ("login", "/accounts/login/"),
            ("signup", "/accounts/signup/"),
            ("404", "/no/such/page/"),
            ("admin login", "/admin/login/"),
        ]:
            response = page.goto(f"{worker.url}{path}")
            assert response is not None
            assert_accessible(page, name)
    finally:
        anonymous.close()

    alice = log_in("alice", "/chat/", worker)
    assert_accessible(alice.page, "room list")
    alice.page.goto(f"{worker.url}/chat/{room}/")
    expect(alice.page.locator("#connection")).to_have_attribute("data-state", "connected")
    alice.page.locator("#composer-body").fill("hello, accessible world")
    alice.page.locator("#composer-body").press("Enter")
    expect(alice.page.locator("#messages li.message:not(.pending)")).to_have_count(1)
    assert_accessible(alice.page, "room")
    alice.page.goto(f"{worker.url}/notifications/")
    assert_accessible(alice.page, "notifications list")
    alice.page.goto(f"{worker.url}/no/such/page/")
    assert_accessible(alice.page, "404 signed in")


def test_not_found_page_is_branded_and_the_favicon_is_served(stack, users, log_in):
    worker = stack.workers[0]
    alice = log_in("alice", "/chat/", worker)
    response = alice.page.goto(f"{worker.url}/chat/no-such-room-anywhere/")
    assert response is not None and response.status == 404
    expect(alice.page.get_by_role("heading", level=1)).to_have_text("This page isn't here")
    expect(alice.page.get_by_role("link", name="Go to your rooms")).to_be_visible()
    icon = alice.page.locator('link[rel="icon"]').get_attribute("href")
    assert icon and icon.endswith(".svg")
    favicon = alice.page.request.get(f"{worker.url}{icon}")
    assert favicon.status == 200 and "<svg" in favicon.text()


def test_logging_out_lands_on_the_login_form_with_a_word(stack, users, log_in):
    worker = stack.workers[0]
    alice = log_in("alice", "/chat/", worker)
    alice.page.get_by_role("button", name="Log out").click()
    expect(alice.page.get_by_label("Username")).to_be_visible()
    expect(alice.page.locator(".flash")).to_contain_text("You have been logged out.")


def test_adding_and_removing_members_is_confirmed(stack, users, password, log_in):
    worker = stack.workers[0]
    slug = private_room(stack, "Planning", "alice")
    alice = log_in("alice", f"/chat/{slug}/", worker)
    page = alice.page

    def change(label: str, username: str, button: str) -> None:
        form = page.locator("form", has=page.get_by_label(label))
        form.get_by_label(label).fill(username)
        form.get_by_role("button", name=button).click()

    change("Add member", "bob", "Add")
    expect(page.locator(".flash")).to_contain_text("bob is a member of Planning.")
    expect(page.locator("#members")).to_contain_text("bob")
    change("Add member", "bob", "Add")  # again: nothing changes, and it says so
    expect(page.locator(".flash")).to_contain_text("bob is a member of Planning.")
    change("Remove member", "bob", "Remove")
    expect(page.locator(".flash")).to_contain_text("bob is no longer a member of Planning.")
    expect(page.locator("#members")).not_to_contain_text("bob")


def test_rooms_of_the_same_name_are_told_apart(stack, users, log_in):
    worker = stack.workers[0]
    first = private_room(stack, "Design", "alice")
    second = private_room(stack, "Design", "alice")
    alice = log_in("alice", "/chat/", worker)
    rows = alice.page.locator(".room-row", has_text="Design")
    expect(rows).to_have_count(2)
    texts = rows.all_inner_texts()
    assert texts[0] != texts[1], texts
    assert any(first in text for text in texts) and any(second in text for text in texts)


def test_on_a_phone_toasts_leave_the_composer_free_and_targets_are_large(
    stack, users, room, open_room, screenshot
):
    worker = stack.workers[0]
    alice = open_room("alice", room, worker, **PHONE)
    page = alice.page
    notify(stack, "alice", "A toast on a phone")
    toast = page.locator("#notif-toasts .notif-toast")
    expect(toast).to_have_count(1)
    toast_box = toast.bounding_box()
    composer_box = page.locator("#composer").bounding_box()
    assert toast_box["y"] + toast_box["height"] <= composer_box["y"], (toast_box, composer_box)
    # Toasts never take the keyboard's focus on Tab.
    assert page.eval_on_selector_all(
        "#notif-toasts a, #notif-toasts button", "items => items.map(item => item.tabIndex)"
    ) == [-1, -1]
    screenshot(alice, "phone")
    small = page.evaluate(
        """(min) => Array.from(document.querySelectorAll(
             'button:not([tabindex="-1"]), a[href]:not([tabindex="-1"]):not(.skip-link), textarea'))
           .filter(el => el.offsetParent !== null)
           .filter(el => !el.closest('[hidden], .actions, .notif-panel, .body'))
           .map(el => [el.id || el.className || el.textContent.trim(), el.getBoundingClientRect()])
           .filter(([, box]) => box.height < min || box.width < min)
           .map(([name, box]) => `${name}: ${Math.round(box.width)}x${Math.round(box.height)}`)""",
        TAP_MIN_PX,
    )
    assert small == [], small


def test_on_a_desktop_toasts_leave_the_open_bell_alone(stack, users, room, open_room):
    worker = stack.workers[0]
    alice = open_room("alice", room, worker)
    page = alice.page
    page.locator("#notif-toggle").click()
    expect(page.locator("#notif-panel")).to_be_visible()
    notify(stack, "alice", "A toast while the bell is open")
    expect(page.locator("#notif-items li")).not_to_have_count(0)
    expect(page.locator("#notif-toasts")).to_be_hidden()
    page.keyboard.press("Escape")


def test_presence_is_unknown_while_the_server_is_away(stack, users, room, open_room):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    bob = open_room("bob", room, b)
    expect(alice.page.locator("#online-count")).to_have_text("2 here")
    a.stop()
    try:
        expect(alice.page.locator("#online-count")).to_have_text("Online: unknown", timeout=45_000)
        bob_item = alice.page.locator(f'#members li[data-user-id="{users["bob"]}"]')
        expect(bob_item).not_to_have_class(re.compile(r"\bonline\b"))
    finally:
        a.start()
    expect(alice.page.locator("#online-count")).to_have_text("2 here", timeout=45_000)
    assert bob.errors == []


def test_the_composer_refuses_an_over_long_paste_with_a_counter(stack, users, room, open_room):
    worker = stack.workers[0]
    alice = open_room("alice", room, worker)
    page = alice.page
    limit = page.evaluate(
        "JSON.parse(document.getElementById('client-config').textContent).CHAT_MAX_BODY_CHARS"
    )
    box = page.locator("#composer-body")
    assert box.get_attribute("maxlength") is None
    box.fill("x" * (limit + 25))
    assert len(box.input_value()) == limit + 25, "nothing was cut"
    expect(page.locator("#composer-count")).to_have_text(f"25 over the limit of {limit}")
    box.press("Enter")
    expect(page.locator("#composer-error")).to_contain_text(f"at most {limit} characters")
    assert len(box.input_value()) == limit + 25, "the text stays to be shortened"
    expect(page.locator("#messages li.message")).to_have_count(0)
    box.fill("x" * (limit - 10))
    expect(page.locator("#composer-count")).to_have_text("10 left")
    box.fill("short")
    expect(page.locator("#composer-count")).to_be_hidden()


def test_mentions_autocomplete_from_the_members(stack, users, room, open_room):
    worker = stack.workers[0]
    alice = open_room("alice", room, worker)
    page = alice.page
    box = page.locator("#composer-body")
    box.press_sequentially("hi @b", delay=20)
    options = page.locator("#mention-list [role=option]")
    expect(options).to_have_text(["@bob"])
    expect(options.first).to_have_attribute("aria-selected", "true")
    box.press("Enter")
    expect(box).to_have_value("hi @bob ")
    expect(page.locator("#mention-list")).to_be_hidden()
    box.press_sequentially("and @", delay=20)
    expect(options).to_have_text(["@bob"])  # not the writer herself
    box.press("Escape")
    expect(page.locator("#mention-list")).to_be_hidden()
    assert page.locator("#messages li.message").count() == 0, "Enter picked, it did not send"


def test_first_unread_divider_sits_above_the_first_of_sixty_unread(stack, users, room, open_room):
    from harness.browser import post_messages

    # One call: post_messages numbers its client_ids from 0 each time.
    post_messages(
        stack,
        room,
        "bob",
        [f"read {n}" for n in range(1, 11)] + [f"unread {n}" for n in range(1, 61)],
    )
    stack.shell(
        "from chat.models import Membership\n"
        "Membership.objects.filter(room__slug=args['slug'], user__username='alice')"
        ".update(last_read_seq=10)\n"
        "print(json.dumps(1))",
        slug=room,
    )
    alice = open_room("alice", room, stack.workers[0])
    page = alice.page
    first_unread = page.locator("#messages li.message.first-unread")
    expect(first_unread).to_have_count(1)
    expect(first_unread.locator(".body")).to_have_text("unread 1")
    expect(first_unread.locator(".divider")).to_have_attribute("aria-label", "New messages")
    expect(page.locator("#messages > :not(li)")).to_have_count(0)
    expect(page.locator("#jump-latest")).to_be_visible()
    page.locator("#jump-latest").click()
    expect(page.locator("#jump-latest")).to_be_hidden()
    expect(page.locator("#jump-unread")).to_be_visible()
    page.locator("#jump-unread").click()
    expect(first_unread).to_be_in_viewport()
    # Every message has its full time on hover, and the day starts with its date.
    assert page.locator("#messages li.message:not(.pending) .meta time").first.get_attribute(
        "title"
    )
    expect(page.locator("#messages .day").first).to_have_text("Today")
