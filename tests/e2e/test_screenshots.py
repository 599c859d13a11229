"""The README's pictures of the room page, taken as tests at a laptop's size: three
people chat in General, and alice's page shows them online and her bell's unread
count (two mentions); and the same in Russian, in the room Общая. They go to
test-results/readme-room.png and readme-room-ru.png; when the page's look
changes, check them and copy them over docs/img/room.png and room-ru.png."""

import pytest

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e

LAPTOP = {"width": 1280, "height": 800}
MESSAGE_BODIES = "#messages li.message:not(.pending) .body"

CONVERSATION = [
    ("alice", "Hi all! Did the deploy go out?"),
    ("bob", "Yes: four workers behind nginx now, and not one dropped socket."),
    (
        "carol",
        "I restarted one worker on purpose. My tab said “reconnecting…” for a "
        "second, then filled in everything I had missed.",
    ),
    ("bob", "That is the resume from the last seq doing its job."),
    ("alice", "Nice. I'm writing the release notes now."),
    ("carol", "@alice can you mention the notification bell in them too?"),
    ("bob", "@alice and the broadcasts from the admin, please!"),
]


@pytest.fixture
def general(stack, users, password) -> str:
    """carol, and the room General with alice (owner), bob and carol; its slug."""
    return stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from chat import services\n"
        "users = get_user_model().objects\n"
        "carol = users.create_user('carol', password=args['password'])\n"
        "room = services.room_create(name='General', created_by=users.get(username='alice'))\n"
        "services.room_join(room=room, user=users.get(username='bob'))\n"
        "services.room_join(room=room, user=carol)\n"
        "print(json.dumps(room.slug))",
        password=password,
    )


def test_room_page_for_the_readme(stack, users, general, open_room, results_dir):
    a, b = stack.workers
    people = {
        "alice": open_room("alice", general, a, viewport=LAPTOP),
        "bob": open_room("bob", general, b, viewport=LAPTOP),
        "carol": open_room("carol", general, a, viewport=LAPTOP),
    }
    alice = people["alice"]
    for count, (name, text) in enumerate(CONVERSATION, start=1):
        box = people[name].page.locator("#composer-body")
        box.fill(text)
        box.press("Enter")
        expect(alice.page.locator(MESSAGE_BODIES)).to_have_count(count)

    # alice has the room in front of her: its mentions are read as she reads
    # the room, and none of them toasts.
    expect(alice.page.locator("#notif-count-n")).to_have_text("0")
    expect(alice.page.locator("#members li.online")).to_have_count(3)
    expect(alice.page.locator("#online-count")).to_have_text("3 here")
    expect(alice.page.locator(".notif-toast")).to_have_count(0)
    # Typing is announced at most once every 2 s: type at a human pace.
    people["carol"].page.locator("#composer-body").press_sequentially("Sure, on it", delay=220)
    expect(alice.page.locator("#typing")).to_have_text("carol is typing…")
    alice.page.locator("#composer-body").blur()

    alice.page.screenshot(path=str(results_dir / "readme-room.png"))
    for user in people.values():
        assert user.errors == [], user.errors


CONVERSATION_RU = [
    ("masha", "Всем привет! Обновление уже выкатили?"),
    ("petya", "Да: четыре процесса за nginx, и ни один сокет не отвалился."),
    (
        "katya",
        "Я специально перезапустила один процесс. Вкладка секунду писала "
        "«переподключение…», а потом догрузила всё пропущенное.",
    ),
    ("petya", "@masha это возобновление с последнего seq."),
    ("masha", "Отлично, пишу заметки к выпуску."),
]


@pytest.fixture
def obshchaya(stack, password) -> str:
    """masha, petya and katya, who read Relay in Russian, and the room Общая; its slug."""
    return stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from accounts import services as accounts\n"
        "from chat import services\n"
        "users = get_user_model().objects\n"
        "people = [users.create_user(name, password=args['password'])"
        " for name in ('masha', 'petya', 'katya')]\n"
        "for user in people:\n"
        "    accounts.profile_language_set(user=user, language='ru')\n"
        "room = services.room_create(name='Общая', created_by=people[0])\n"
        "for user in people[1:]:\n"
        "    services.room_join(room=room, user=user)\n"
        "print(json.dumps(room.slug))",
        password=password,
    )


def test_russian_room_page_for_the_readme(stack, users, obshchaya, open_room, results_dir):
    assert obshchaya == "obshchaya"
    a, b = stack.workers
    people = {
        name: open_room(name, obshchaya, worker, viewport=LAPTOP)
        for name, worker in (("masha", a), ("petya", b), ("katya", a))
    }
    masha = people["masha"]
    # Their browsers say English; their accounts say Russian.
    expect(masha.page.locator("html")).to_have_attribute("lang", "ru")
    for count, (name, text) in enumerate(CONVERSATION_RU, start=1):
        box = people[name].page.locator("#composer-body")
        box.fill(text)
        box.press("Enter")
        expect(masha.page.locator(MESSAGE_BODIES)).to_have_count(count)
    expect(masha.page.locator("#members li.online")).to_have_count(3)
    expect(masha.page.locator("#online-count")).to_have_text("Здесь: 3")
    # Typed key by key (Latin keys: Playwright types other scripts as one
    # insertion, not keystrokes); only masha's page is in the picture.
    people["katya"].page.locator("#composer-body").press_sequentially("Da, sejchas", delay=220)
    expect(masha.page.locator("#typing")).to_have_text("katya печатает…")
    masha.page.locator("#composer-body").blur()

    masha.page.screenshot(path=str(results_dir / "readme-room-ru.png"))
    for user in people.values():
        assert user.errors == [], user.errors
