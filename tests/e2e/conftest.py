"""Browser fixtures: the app as real processes (harness/stack.py) and Debian's
Chromium driven by Playwright, one fresh browser context per user."""

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.processes import BASE_DIR
from harness.stack import Stack

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
VIEWPORT = {"width": 1180, "height": 760}
RESULTS_DIR = BASE_DIR / "test-results"


def pytest_runtest_setup(item):
    """Skip the browser tests (this directory's only) before their processes start
    when there is no browser to drive."""
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} is absent: install Debian's chromium package to run the browser tests"
        )


@pytest.fixture(scope="module")
def stack():
    """Redis, a fresh database and two Daphne workers sharing them."""
    # Every login here comes from 127.0.0.1: no login throttling.
    with Stack(collect_static=True, extra_env={"AUTH_RATE_LIMIT": "0"}) as stack:
        stack.start_worker()
        stack.start_worker()
        yield stack


@pytest.fixture(scope="session")
def password() -> str:
    """The password of every user of these tests."""
    return PASSWORD


@pytest.fixture(scope="session")
def results_dir() -> Path:
    """Where pictures of pages go (test-results/, made on demand)."""
    RESULTS_DIR.mkdir(exist_ok=True)
    return RESULTS_DIR


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


@pytest.fixture(scope="module", autouse=True)
def _patient_expectations():
    """Wait up to 15 s for what a page should show (Playwright's default is 5 s):
    CI runs these after everything else, on a loaded 2-core machine."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)


@pytest.fixture(scope="module")
def browser():
    # Module scope: Playwright's sync API keeps an event loop running in this
    # thread until it stops, which asyncio tests after it cannot share.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class UserPage:
    """One user's page in their own browser context, with what went wrong in it and
    the WebSocket frames it sent and received: (socket path, text) pairs."""

    def __init__(self, page) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.sent: list[tuple[str, str]] = []
        self.received: list[tuple[str, str]] = []
        page.on("dialog", self._on_dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._on_console)
        page.on("websocket", self._on_websocket)

    def _on_websocket(self, socket) -> None:
        path = urlsplit(socket.url).path
        socket.on("framesent", lambda payload: self.sent.append((path, payload)))
        socket.on("framereceived", lambda payload: self.received.append((path, payload)))

    def _on_console(self, message) -> None:
        # Failed connections log errors too while a server is down; CSP refusals don't belong.
        if message.type == "error" and "Content Security Policy" in message.text:
            self.errors.append(message.text)

    def _on_dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def new_tab(self, url: str) -> "UserPage":
        """Open `url` in another tab of the same browser context (same login)."""
        tab = UserPage(self.page.context.new_page())
        tab.page.goto(url)
        return tab


@pytest.fixture
def log_in(browser, users):
    """Open `path` on `worker` as `username` in a fresh browser context, logging in
    through the login form it redirects to (the site's, or the admin's)."""
    contexts = []

    def log_in_(username: str, path: str, worker, **context_options) -> UserPage:
        context = browser.new_context(**{"viewport": VIEWPORT, **context_options})
        contexts.append(context)
        user = UserPage(context.new_page())
        page = user.page
        page.goto(f"{worker.url}{path}")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{worker.url}{path}")
        return user

    yield log_in_
    for context in contexts:
        context.close()


@pytest.fixture
def open_room(log_in):
    """Log `username` in through the login form on `worker` and open room `slug`."""
    from playwright.sync_api import expect

    def open_(username: str, slug: str, worker, **context_options) -> UserPage:
        user = log_in(username, f"/chat/{slug}/", worker, **context_options)
        expect(user.page.locator("#connection")).to_have_attribute("data-state", "connected")
        return user

    return open_


@pytest.fixture
def screenshot(request, results_dir):
    """Save a page's final state as test-results/<test>-<name>.png."""

    def shoot(user: UserPage, name: str) -> Path:
        path = results_dir / f"{request.node.name}-{name}.png"
        user.page.screenshot(path=str(path))
        return path

    return shoot
