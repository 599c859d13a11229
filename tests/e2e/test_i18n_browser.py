"""The language switcher in a real browser: alice switches her room page to
Russian (the page, the live client's own text and her socket's error details
follow, and the choice is kept on her account for her other devices), then back
to English."""

import json
import re

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e


def stored_language(stack, username: str) -> str:
    return stack.shell(
        "from accounts.models import Profile\n"
        "row = Profile.objects.filter(user__username=args['name']).first()\n"
        "print(json.dumps(row.language if row else ''))",
        name=username,
    )


def test_switching_to_russian_and_back(stack, users, room, open_room, browser, password):
    a, b = stack.workers
    alice = open_room("alice", room, a)
    page = alice.page
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#connection")).to_have_text("Connected")

    page.get_by_role("button", name="Русский").click()
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
    # Server-rendered text, and the text the client writes from #client-strings.
    expect(page.locator("#members-title")).to_have_text("Участники")
    expect(page.get_by_role("button", name="Отправить")).to_be_visible()
    expect(page.locator("#connection")).to_have_text("Подключено")
    assert stored_language(stack, "alice") == "ru"

    # A message: its time in the one client format; a day separator in Russian.
    page.locator("#composer-body").fill("Привет всем")
    page.locator("#composer-body").press("Enter")
    expect(page.locator("#messages li.message:not(.pending) .body")).to_have_text(["Привет всем"])
    expect(page.locator("#messages .day span").first).to_have_text("Сегодня")
    shown_time = page.locator("#messages li.message:not(.pending) time").first
    expect(shown_time).to_have_text(re.compile(r"^\d{2}:\d{2}$"))

    # The socket's own error details: a frame the contract refuses, sent by hand.
    page.evaluate(
        """() => new Promise((resolve) => {
            const socket = new WebSocket(`ws://${location.host}/ws/chat/${args.slug}/`);
            socket.onmessage = (event) => {
                const frame = JSON.parse(event.data);
                if (frame.type === "hello") socket.send(JSON.stringify({type: "nonsense"}));
                if (frame.type === "error") { window.__error = frame; socket.close(); resolve(); }
            };
        })""".replace("args.slug", json.dumps(room)),
    )
    error = page.evaluate("() => window.__error")
    assert (error["code"], error["detail"]) == ("invalid", "Неизвестный тип кадра.")

    # Another device: the stored language, whatever its browser says.
    context = browser.new_context(locale="en-US")
    try:
        other = context.new_page()
        other.goto(f"{b.url}/accounts/login/?next=/chat/")
        expect(other.locator("html")).to_have_attribute("lang", "en")
        other.locator("#id_username").fill("alice")
        other.locator("#id_password").fill(password)
        other.locator("form.stacked button[type=submit]").click()
        other.wait_for_url(f"{b.url}/chat/")
        expect(other.locator("html")).to_have_attribute("lang", "ru")
        expect(other.get_by_role("heading", level=1)).to_have_text("Ваши комнаты")
    finally:
        context.close()

    # The notifications page: stored and live entries in the rooms' one format
    # (the time today, in the browser's zone), where it once showed server UTC.
    def notify(title: str) -> None:
        stack.shell(
            "from django.contrib.auth import get_user_model\n"
            "from notifications import services\n"
            "services.notify(get_user_model().objects.get(username='alice'), title=args['t'])\n"
            "print(json.dumps(1))",
            t=title,
        )

    notify("Первое")
    page.goto(f"{a.url}/notifications/")
    times = page.locator("#notif-list time")
    expect(times.first).to_have_text(re.compile(r"^\d{2}:\d{2}$"))
    notify("Второе")
    expect(page.locator("#notif-list .notif-entry-title")).to_have_text(["Второе", "Первое"])
    expect(times).to_have_text([re.compile(r"^\d{2}:\d{2}$")] * 2)
    expect(page.locator("#notif-page-unread")).to_have_text("2 непрочитанных")
    page.goto(f"{a.url}/chat/{room}/")
    expect(page.locator("#connection")).to_have_text("Подключено")

    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#members-title")).to_have_text("Members")
    expect(page.locator("#connection")).to_have_text("Connected")
    expect(page.locator("#messages .day span").first).to_have_text("Today")
    assert stored_language(stack, "alice") == "en"
    assert alice.errors == [], alice.errors
