"""Web Push in a real browser: the settings page's widget asks for permission only
on a click, subscribes this browser and stores it on the server; a mention for a
user with no tab open goes to the (stand-in) push service, and the service worker
at /sw.js shows what the browser would receive.

Headless Chromium has no push service to subscribe with (`pushManager.subscribe`
fails there with "Registration failed - permission denied"), so the page gets a
subscription from a stand-in `subscribe` whose endpoint is the test's own push
service and whose keys the test holds: everything before that call and after it
(the POST, the server's push, decrypting it, the service worker showing it) is real.
The push is handed to the service worker over the DevTools protocol
(`ServiceWorker.deliverPushMessage`), as the browser's push service would.
"""

import json
import time

import pytest
from py_vapid import Vapid

from harness.push_service import BrowserKeys, PushService
from harness.stack import Stack
from notifications.webpush import b64url, public_key_of

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
expect = sync_api.expect

pytestmark = pytest.mark.e2e

SETTINGS_PATH = "/settings/notifications/"
SUBJECT = "mailto:ops@example.com"

# Stands in for the browser's push service registration (see the docstring). The
# test fills in the subscription it will receive as; permission prompts are counted.
STUB = """
(() => {
  const json = %s;
  let current = null;
  window.e2ePush = { asked: 0, subscribeOptions: null };
  const ask = Notification.requestPermission.bind(Notification);
  Notification.requestPermission = (...args) => {
    window.e2ePush.asked += 1;
    return ask(...args);
  };
  PushManager.prototype.subscribe = async function (options) {
    window.e2ePush.subscribeOptions = {
      userVisibleOnly: options.userVisibleOnly,
      key: Array.from(new Uint8Array(options.applicationServerKey)),
    };
    current = {
      endpoint: json.endpoint,
      options: { applicationServerKey: options.applicationServerKey },
      toJSON: () => json,
      unsubscribe: async () => { current = null; return true; },
    };
    return current;
  };
  PushManager.prototype.getSubscription = async function () { return current; };
})();
"""


@pytest.fixture(scope="module")
def push_service():
    with PushService() as service:
        yield service


@pytest.fixture(scope="module")
def vapid_keys() -> dict[str, str]:
    signer = Vapid()
    signer.generate_keys()
    private = signer.private_key.private_numbers().private_value.to_bytes(32, "big")
    return {"public": public_key_of(signer), "private": b64url(private)}


@pytest.fixture(scope="module")
def stack(push_service, vapid_keys):
    """One worker with Web Push on, allowed to post to the test's push service only."""
    env = {
        "AUTH_RATE_LIMIT": "0",
        "WEBPUSH_VAPID_PUBLIC_KEY": vapid_keys["public"],
        "WEBPUSH_VAPID_PRIVATE_KEY": vapid_keys["private"],
        "WEBPUSH_VAPID_SUBJECT": SUBJECT,
        "WEBPUSH_ENDPOINT_HOSTS": push_service.host,
        "WEBPUSH_ALLOW_HTTP": "1",
    }
    with Stack(collect_static=True, extra_env=env) as stack:
        # `manage.py serve`: its task worker sends the pushes, as in production.
        stack.start_worker(serve=True)
        yield stack


@pytest.fixture
def settings_page(log_in, stack, users):
    """alice on the settings page in a fresh context with the stand-in subscribe."""

    def open_(keys: BrowserKeys, endpoint: str, grant: str | None = None):
        worker = stack.workers[0]
        user = log_in("alice", "/notifications/", worker)
        if grant:
            # As if alice had allowed notifications for the site before.
            user.page.context.grant_permissions(["notifications"], origin=grant)
        user.page.context.add_init_script(STUB % json.dumps(keys.subscription(endpoint)))
        response = user.page.goto(f"{worker.url}{SETTINGS_PATH}")
        if response.status == 404:
            pytest.skip(f"{SETTINGS_PATH} is not built yet (the push widget is its partial)")
        return user

    return open_


def subscriptions(stack) -> list[str]:
    return stack.shell(
        "from notifications.models import PushSubscription\n"
        "print(json.dumps(list(PushSubscription.objects.filter(user__username='alice')"
        ".values_list('endpoint', flat=True))))"
    )


def wait_for_pushes(push_service, name: str, timeout: float = 20) -> list:
    """Wait for the task worker to post to the endpoint `name`; return what came."""
    deadline = time.monotonic() + timeout
    while not push_service.to(name):
        assert time.monotonic() < deadline, f"no push to {name} in {timeout} s"
        time.sleep(0.05)
    return push_service.to(name)


def wait_until_offline(stack, username: str, timeout: float = 15) -> None:
    """Wait until the user has no socket open on any worker (the registry says so)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        online = stack.shell(
            "from notifications.webpush import users_online\n"
            "from django.contrib.auth import get_user_model\n"
            "user = get_user_model().objects.get(username=args['username'])\n"
            "print(json.dumps(bool(users_online([user.pk]))))",
            username=username,
        )
        if not online:
            return
        time.sleep(0.2)
    raise AssertionError(f"{username} still has a socket open")


def test_permission_is_asked_only_on_a_click(settings_page, push_service):
    user = settings_page(BrowserKeys(), push_service.endpoint("unused"))
    page = user.page
    expect(page.locator("#push-status")).to_have_text("Off for this browser.")
    expect(page.locator("#desktop-allow")).to_be_visible()
    assert page.evaluate("window.e2ePush.asked") == 0
    page.locator("#desktop-allow").click()
    # Headless Chromium answers the prompt itself ("denied" or "default").
    page.wait_for_function("window.e2ePush.asked === 1")
    assert user.errors == []


def test_a_browser_subscribes_and_then_receives_a_mention(
    settings_page, push_service, stack, vapid_keys
):
    keys = BrowserKeys()
    endpoint = push_service.endpoint("alice-browser")
    worker = stack.workers[0]
    user = settings_page(keys, endpoint, grant=worker.url)
    page = user.page
    expect(page.locator("#desktop-status")).to_have_text("Allowed in this browser.")
    expect(page.locator("#desktop-allow")).to_be_hidden()

    page.locator("#push-subscribe").click()
    expect(page.locator("#push-status")).to_have_text("On for this browser.")
    assert subscriptions(stack) == [endpoint]
    options = page.evaluate("window.e2ePush.subscribeOptions")
    assert options["userVisibleOnly"] is True
    assert b64url(bytes(options["key"])) == vapid_keys["public"]
    scope = page.evaluate(
        "(async () => (await navigator.serviceWorker.getRegistration('/')).scope)()"
    )
    assert scope == f"{worker.url}/"

    # Off and on again: the server forgets it, then has it again.
    page.locator("#push-unsubscribe").click()
    expect(page.locator("#push-status")).to_have_text("Off for this browser.")
    assert subscriptions(stack) == []
    page.locator("#push-subscribe").click()
    expect(page.locator("#push-status")).to_have_text("On for this browser.")
    assert user.errors == []

    # alice leaves the site (no socket anywhere); her browser keeps the worker.
    page.goto("about:blank")
    wait_until_offline(stack, "alice")
    stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from notifications import services\n"
        "alice = get_user_model().objects.get(username='alice')\n"
        "services.notify(alice, title='bob mentioned you in General', body='lunch?',"
        " url='/chat/general/?at=7', kind='mention')\n"
        "print('null')"
    )
    [push] = wait_for_pushes(push_service, "alice-browser")
    payload = keys.decrypt(push)
    assert (payload["title"], payload["url"]) == (
        "bob mentioned you in General",
        "/chat/general/?at=7",
    )

    # The browser's side: the service worker shows it.
    page.goto(f"{worker.url}/healthz")
    session = page.context.new_cdp_session(page)
    registrations: list[dict] = []
    session.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    session.send("ServiceWorker.enable")
    deadline = time.monotonic() + 10
    while not registrations and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    [registration] = [r for r in registrations if r["scopeURL"] == f"{worker.url}/"]
    session.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": worker.url,
            "registrationId": registration["registrationId"],
            "data": json.dumps(payload),
        },
    )
    shown = page.wait_for_function(
        """async () => {
          const registration = await navigator.serviceWorker.getRegistration('/');
          const shown = await registration.getNotifications();
          return shown.length ? shown.map((n) => [n.title, n.body, n.tag, n.data.url]) : null;
        }"""
    ).json_value()
    assert shown == [
        ["bob mentioned you in General", "lunch?", payload["tag"], "/chat/general/?at=7"]
    ]
