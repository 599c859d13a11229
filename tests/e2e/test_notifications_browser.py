"""The notification bell in a real browser: staff save a Broadcast in the Django
admin, open pages of other users count it up and toast it live, and reading it in
one tab takes the count down in the user's other tabs, each user in their own
browser context, logged in through the form."""

import re

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e

TITLE = "Maintenance at 22:00"
BODY = "The chat is read-only for five minutes while we upgrade the database."


@pytest.fixture(scope="module")
def staff(stack, password) -> int:
    """A staff superuser, `staff`; their id."""
    return stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "user = get_user_model().objects.create_superuser(args['username'],"
        " password=args['password'])\n"
        "print(json.dumps(user.pk))",
        username="staff",
        password=password,
    )


def has_class(name: str) -> re.Pattern:
    """For to_have_class: a class list that holds `name`."""
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def bell(user):
    return user.page.locator("#notif-bell")


def unread_badge(user):
    return user.page.locator("#notif-count")


def expect_bell_connected(*users) -> None:
    for user in users:
        expect(bell(user)).to_have_attribute("data-state", "connected")


def expect_unread(user, count: int) -> None:
    if count:
        expect(unread_badge(user)).to_be_visible()
        expect(user.page.locator("#notif-count-n")).to_have_text(str(count))
    else:
        expect(unread_badge(user)).to_be_hidden()


def mark_no_reload(*users) -> None:
    for user in users:
        user.page.evaluate("window.e2eSamePage = true")


def assert_not_reloaded(*users) -> None:
    for user in users:
        assert user.page.evaluate("window.e2eSamePage === true"), "the page was reloaded"


def assert_nothing_went_wrong(*users) -> None:
    for user in users:
        assert user.errors == [], user.errors
        assert user.dialogs == [], user.dialogs


def stored_read(stack) -> dict[str, list[bool]]:
    """username -> whether each of their stored notifications is read."""
    return stack.shell(
        "from notifications.models import Notification\n"
        "read = {}\n"
        "for n in Notification.objects.select_related('recipient').order_by('id'):\n"
        "    read.setdefault(n.recipient.username, []).append(n.read_at is not None)\n"
        "print(json.dumps(read))",
    )


def test_admin_broadcast_reaches_open_pages_and_reading_syncs_tabs(
    stack, users, staff, room, log_in, open_room, screenshot
):
    a, b = stack.workers
    alice = log_in("alice", "/chat/", a)
    bob = open_room("bob", room, b)
    expect_bell_connected(alice, bob)
    expect_unread(alice, 0)
    expect_unread(bob, 0)
    mark_no_reload(alice, bob)

    admin = log_in("staff", "/admin/notifications/broadcast/add/", a)
    form = admin.page
    form.get_by_label("Title").fill(TITLE)
    form.get_by_label("Body").fill(BODY)
    form.get_by_label("Level").select_option("warning")
    form.get_by_label("Url").fill(f"/chat/{room}/")
    form.get_by_label("Audience").select_option("all")
    form.get_by_role("button", name="Save", exact=True).click()
    form.wait_for_url(f"{a.url}/admin/notifications/broadcast/")
    expect(form.locator("ul.messagelist")).to_contain_text("Sent to 3 users.")

    # Both users (on two different workers) count up and get a toast, live.
    for user in (alice, bob):
        expect_unread(user, 1)
        toast = user.page.locator("#notif-toasts .notif-toast")
        expect(toast).to_have_count(1)
        expect(toast).to_have_class(has_class("notif-level-warning"))
        expect(toast.locator(".notif-toast-title")).to_have_text(TITLE)
        expect(toast.locator(".notif-toast-link")).to_have_attribute("href", f"/chat/{room}/")
    screenshot(bob, "bob-toast")
    assert_not_reloaded(alice, bob)

    # alice opens her notifications in a second tab, served by the other worker.
    alice_list = alice.new_tab(f"{b.url}/notifications/")
    expect_bell_connected(alice_list)
    expect_unread(alice_list, 1)
    entry = alice_list.page.locator("#notif-list li.notif-entry")
    expect(entry).to_have_count(1)
    expect(entry).to_have_class(has_class("notif-unread"))
    expect(alice_list.page.locator("#notif-page-unread")).to_have_text("1 unread")
    mark_no_reload(alice_list)

    # In the first tab she opens the bell and clicks the notification: it takes her
    # to its page, and the list tab says it is read without reloading.
    alice.page.locator("#notif-toggle").click()
    panel = alice.page.locator("#notif-panel")
    expect(panel).to_be_visible()
    expect(alice.page.locator("#notif-toggle")).to_have_attribute("aria-expanded", "true")
    item = panel.locator("#notif-items li.notif-item")
    expect(item).to_have_count(1)
    expect(item).to_have_class(has_class("notif-unread"))
    item.get_by_role("link").click()
    alice.page.wait_for_url(f"{a.url}/chat/{room}/")

    expect_unread(alice_list, 0)
    expect(entry).not_to_have_class(has_class("notif-unread"))
    expect(alice_list.page.locator("#notif-page-unread")).to_have_text("0 unread")
    expect(alice_list.page.locator(".notif-page-read-all button")).to_be_disabled()
    assert_not_reloaded(alice_list)
    expect_bell_connected(alice)
    expect_unread(alice, 0)

    # Reading is per user: bob still has his, until he marks all read on his page.
    expect_unread(bob, 1)
    assert stored_read(stack) == {"alice": [True], "bob": [False], "staff": [False]}
    bob.page.locator("#notif-toggle").click()
    bob.page.locator("#notif-panel").get_by_role("button", name="Mark all read").click()
    expect_unread(bob, 0)
    expect(bob.page.locator("#notif-items li.notif-item.notif-unread")).to_have_count(0)
    assert_not_reloaded(bob)

    screenshot(alice_list, "alice-list-tab")
    screenshot(alice, "alice-room-tab")
    screenshot(bob, "bob")
    assert_nothing_went_wrong(alice, alice_list, bob, admin)
