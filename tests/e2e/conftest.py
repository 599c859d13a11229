"""Browser fixtures: the app as real processes (tests/servers.py) and Debian's
Chromium driven by Playwright, one fresh browser context per user."""

from pathlib import Path

import pytest

from tests.servers import BASE_DIR, Stack

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORD = "e2e-Password-31"
RESULTS_DIR = BASE_DIR / "test-results"

needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"{CHROMIUM} is absent: install Debian's chromium package to run the browser tests",
)


@pytest.fixture(scope="module")
def stack():
    """Redis, a fresh database and two Daphne workers sharing them."""
    # Every login here comes from 127.0.0.1: no login throttling.
    with Stack(collect_static=True, extra_env={"AUTH_RATE_LIMIT": "0"}) as stack:
        stack.start_worker()
        stack.start_worker()
        yield stack


@pytest.fixture(scope="module")
def users(stack) -> dict[str, int]:
    """alice and bob: username -> id."""
    return {name: stack.create_user(name, PASSWORD) for name in ("alice", "bob")}


@pytest.fixture(autouse=True)
def _worker_logs_on_failure(request, stack):
    """Print the workers' logs after each test: pytest shows them when it fails."""
    yield
    for worker in stack.workers:
        print(f"--- daphne {worker.port} ---\n{worker.log()}")


@pytest.fixture
def room(stack, users, request) -> str:
    """A public room for this test, with alice (owner) and bob as members; its slug."""
    return stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from chat import services\n"
        "users = get_user_model().objects\n"
        "room = services.room_create(name=args['name'], created_by=users.get(username='alice'))\n"
        "services.room_join(room=room, user=users.get(username='bob'))\n"
        "print(json.dumps(room.slug))",
        name=request.node.name.removeprefix("test_")[:60],
    )


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class UserPage:
    """One user's page in their own browser context, with what went wrong in it."""

    def __init__(self, page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._on_console)

    def _on_console(self, message) -> None:
        # Failed connections log errors too while a server is down; CSP refusals don't belong.
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def open_room(browser, users):
    """Log `username` in through the login form on `worker` and open room `slug`."""
    from playwright.sync_api import expect

    contexts = []

    def open_(username: str, slug: str, worker, **context_options) -> UserPage:
        context = browser.new_context(viewport={"width": 1180, "height": 760}, **context_options)
        contexts.append(context)
        user = UserPage(context.new_page())
        page = user.page
        page.goto(f"{worker.url}/chat/{slug}/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{worker.url}/chat/{slug}/")
        expect(page.locator("#connection")).to_have_attribute("data-state", "connected")
        return user

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(request):
    """Save a page's final state as test-results/<test>-<name>.png."""
    RESULTS_DIR.mkdir(exist_ok=True)

    def shoot(user: UserPage, name: str) -> Path:
        path = RESULTS_DIR / f"{request.node.name}-{name}.png"
        user.page.screenshot(path=str(path))
        return path

    return shoot
