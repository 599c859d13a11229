"""Storing and dropping Web Push subscriptions over HTTP, and /sw.js: the
contract's answers, the push-service allow-list, ownership, login and CSRF."""

import json

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.test import Client
from py_vapid import Vapid

from harness.push_service import BrowserKeys
from notifications.models import PushSubscription
from notifications.webpush import b64url_decode, public_key_of

pytestmark = pytest.mark.django_db

SUBSCRIBE = "/notifications/push/subscribe/"
UNSUBSCRIBE = "/notifications/push/unsubscribe/"
FCM = "https://fcm.googleapis.com/fcm/send/"


@pytest.fixture
def client_as():
    def login(user, **options) -> Client:
        client = Client(**options)
        client.force_login(user)
        return client

    return login


def post_json(client: Client, path: str, data, **extra):
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return client.post(path, body, content_type="application/json", **extra)


def subscription(endpoint: str = FCM + "abc123") -> dict:
    return BrowserKeys().subscription(endpoint)


def test_subscribe_stores_one_row_per_endpoint(webpush_on, client_as, alice):
    client = client_as(alice)
    first = subscription()
    assert post_json(client, SUBSCRIBE, first).status_code == 201
    again = subscription()  # the same endpoint with new keys: an update
    response = post_json(client, SUBSCRIBE, again)
    assert response.status_code == 201
    assert response.json() == {"endpoint": again["endpoint"]}
    row = PushSubscription.objects.get()
    assert (row.user, row.endpoint) == (alice, again["endpoint"])
    assert (row.p256dh, row.auth) == (again["keys"]["p256dh"], again["keys"]["auth"])


def test_another_users_endpoint_moves_to_the_current_user(webpush_on, client_as, alice, bob):
    data = subscription()
    post_json(client_as(alice), SUBSCRIBE, data)
    # The browser is bob's now (alice's login there ended): his pushes, not hers.
    assert post_json(client_as(bob), SUBSCRIBE, data).status_code == 201
    assert list(PushSubscription.objects.values_list("user__username", flat=True)) == ["bob"]


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/x",
        "https://updates.push.services.mozilla.com/wpush/v2/x",
        "https://wns2-par02p.notify.windows.com/w/?token=x",
        "https://web.push.apple.com/QGx",
    ],
)
def test_the_browsers_push_services_are_allowed(webpush_on, client_as, alice, endpoint):
    assert post_json(client_as(alice), SUBSCRIBE, subscription(endpoint)).status_code == 201


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("https://evil.example.com/push", "not a known push service"),
        ("https://fcm.googleapis.com.evil.example.com/push", "not a known push service"),
        ("https://evilfcm.googleapis.com/push", "not a known push service"),
        ("https://fcm.googleapis.com@evil.example.com/push", "not a push service"),
        ("https://user@fcm.googleapis.com/push", "not a push service"),
        ("https://127.0.0.1/push", "not a known push service"),
        ("http://fcm.googleapis.com/fcm/send/x", "must be an https URL"),
        ("ftp://fcm.googleapis.com/x", "must be an https URL"),
        ("https://fcm.googleapis.com:99999/x", "not a URL"),
        ("https://fcm.googleapis.com/a b", "not a URL"),
        ("/relative", "must be an https URL"),
        (FCM + "x" * 1000, "longer than"),
    ],
)
def test_endpoints_off_the_allow_list_are_refused(webpush_on, client_as, alice, endpoint, reason):
    response = post_json(client_as(alice), SUBSCRIBE, subscription(endpoint))
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert not PushSubscription.objects.exists()


def test_http_endpoints_only_with_the_test_flag(webpush_on, settings, client_as, alice):
    settings.WEBPUSH_ENDPOINT_HOSTS = ["127.0.0.1"]
    client = client_as(alice)
    local = subscription("http://127.0.0.1:8999/push/1")
    assert post_json(client, SUBSCRIBE, local).status_code == 400
    settings.WEBPUSH_ALLOW_HTTP = True
    assert post_json(client, SUBSCRIBE, local).status_code == 201


def _with_keys(**keys) -> dict:
    data = subscription()
    data["keys"] = {**data["keys"], **keys}
    return data


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "JSON object"),
        ({"keys": {}}, "no endpoint"),
        ({"endpoint": 7, "keys": {}}, "no endpoint"),
        ({"endpoint": FCM + "x"}, "no keys"),
        ({"endpoint": FCM + "x", "keys": "k"}, "no keys"),
        ({"endpoint": FCM + "x", "keys": {"auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "p256dh and auth"),
        (_with_keys(p256dh="BAAA"), "P-256"),
        (_with_keys(p256dh="B" + "A" * 86), "P-256"),  # 65 bytes, not on the curve
        (_with_keys(p256dh="!!!"), "P-256"),
        (_with_keys(auth="AAAA"), "16-byte"),
        (_with_keys(auth="%%%%"), "16-byte"),
        ("{" + " " * 5000 + "}", "over 4096 bytes"),
    ],
)
def test_malformed_subscriptions_are_400_with_a_reason(webpush_on, client_as, alice, body, reason):
    response = post_json(client_as(alice), SUBSCRIBE, body)
    assert response.status_code == 400
    assert reason in response.json()["error"]


def test_subscribe_is_refused_while_push_is_off(client_as, alice):
    response = post_json(client_as(alice), SUBSCRIBE, subscription())
    assert response.status_code == 400
    assert "not set up" in response.json()["error"]


def test_unsubscribe_drops_only_the_users_own(webpush_on, client_as, alice, bob):
    mine, hers = subscription(FCM + "bob"), subscription(FCM + "alice")
    post_json(client_as(bob), SUBSCRIBE, mine)
    post_json(client_as(alice), SUBSCRIBE, hers)
    client = client_as(bob)
    # Someone else's endpoint: the same answer, nothing changes.
    assert post_json(client, UNSUBSCRIBE, {"endpoint": hers["endpoint"]}).status_code == 204
    assert post_json(client, UNSUBSCRIBE, {"endpoint": mine["endpoint"]}).status_code == 204
    assert post_json(client, UNSUBSCRIBE, {"endpoint": FCM + "unknown"}).status_code == 204
    assert list(PushSubscription.objects.values_list("user__username", flat=True)) == ["alice"]


@pytest.mark.parametrize("body", ["nope", "[]", {}, {"endpoint": 3}, {"endpoint": ""}])
def test_malformed_unsubscribe_is_400(client_as, alice, body):
    response = post_json(client_as(alice), UNSUBSCRIBE, body)
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize("path", [SUBSCRIBE, UNSUBSCRIBE])
def test_anonymous_is_sent_to_login(webpush_on, path):
    response = post_json(Client(), path, subscription())
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize("path", [SUBSCRIBE, UNSUBSCRIBE])
def test_get_is_not_allowed(client_as, alice, path):
    assert client_as(alice).get(path).status_code == 405


def test_csrf_token_is_required(webpush_on, client_as, alice):
    client = client_as(alice, enforce_csrf_checks=True)
    data = subscription()
    assert post_json(client, SUBSCRIBE, data).status_code == 403
    assert post_json(client, UNSUBSCRIBE, {"endpoint": data["endpoint"]}).status_code == 403
    client.get("/notifications/")  # the page sets the CSRF cookie
    token = client.cookies[django_settings.CSRF_COOKIE_NAME].value
    assert post_json(client, SUBSCRIBE, data, HTTP_X_CSRFTOKEN=token).status_code == 201


def test_a_user_keeps_a_bounded_number_of_browsers(webpush_on, client_as, alice, settings):
    from notifications import webpush

    client = client_as(alice)
    for i in range(webpush.SUBSCRIPTIONS_PER_USER + 3):
        post_json(client, SUBSCRIBE, subscription(f"{FCM}{i}"))
    endpoints = set(PushSubscription.objects.values_list("endpoint", flat=True))
    assert len(endpoints) == webpush.SUBSCRIPTIONS_PER_USER
    assert f"{FCM}0" not in endpoints and f"{FCM}{webpush.SUBSCRIPTIONS_PER_USER + 2}" in endpoints


def test_logging_out_ends_that_logins_subscriptions(webpush_on, client_as, alice):
    here, elsewhere = client_as(alice), client_as(alice)
    post_json(here, SUBSCRIBE, subscription(FCM + "here"))
    post_json(elsewhere, SUBSCRIBE, subscription(FCM + "elsewhere"))
    here.post("/accounts/logout/")
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [FCM + "elsewhere"]


def test_service_worker_is_served_at_the_root():
    response = Client().get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert b'addEventListener("push"' in response.content
    again = Client().get("/sw.js", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304 and again["Service-Worker-Allowed"] == "/"


def test_vapid_keys_prints_a_matching_pair(capsys):
    call_command("vapid_keys")
    lines = dict(line.split("=", 1) for line in capsys.readouterr().out.splitlines() if "=" in line)
    public, private = lines["WEBPUSH_VAPID_PUBLIC_KEY"], lines["WEBPUSH_VAPID_PRIVATE_KEY"]
    assert len(b64url_decode(public)) == 65 and len(b64url_decode(private)) == 32
    assert public_key_of(Vapid.from_string(private_key=private)) == public


def test_the_settings_page_hands_the_widget_the_key_and_the_users_browsers(
    webpush_on, client_as, alice, bob
):
    post_json(client_as(alice), SUBSCRIBE, subscription(FCM + "alice"))
    post_json(client_as(bob), SUBSCRIBE, subscription(FCM + "bob"))
    page = client_as(alice).get("/settings/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    config = json.loads(html.split('id="push-config" type="application/json">')[1].split("<")[0])
    assert config == {
        "enabled": True,
        "publicKey": webpush_on,
        "subscribeUrl": SUBSCRIBE,
        "unsubscribeUrl": UNSUBSCRIBE,
        "endpoints": [FCM + "alice"],
    }
    assert 'src="/static/js/push-settings.js"' in html


def test_the_settings_page_says_when_push_is_off(client_as, alice):
    html = client_as(alice).get("/settings/notifications/").content.decode()
    assert "Push notifications are not set up on this server." in html
    assert '{"enabled": false}' in html


def run_checks() -> list[str]:
    from notifications.checks import webpush_settings

    return [message.id for message in webpush_settings(None)]


def test_system_checks_catch_a_broken_key_pair(webpush_on, settings):
    assert run_checks() == []
    settings.WEBPUSH_VAPID_SUBJECT = ""
    assert run_checks() == ["notifications.W001"]
    settings.WEBPUSH_VAPID_SUBJECT = "ops@example.com"
    assert run_checks() == ["notifications.E003"]
    settings.WEBPUSH_VAPID_SUBJECT = "mailto:ops@example.com"
    settings.WEBPUSH_VAPID_PUBLIC_KEY = public_key_of(Vapid.from_string(private_key="A" * 42 + "E"))
    assert run_checks() == ["notifications.E002"]
    settings.WEBPUSH_VAPID_PRIVATE_KEY = "not a key"
    assert run_checks() == ["notifications.E001"]


def test_push_subscriptions_are_listed_read_only_in_the_admin(
    webpush_on, client_as, alice, make_user
):
    post_json(client_as(alice), SUBSCRIBE, subscription(FCM + "alice"))
    admin = make_user("root", is_staff=True, is_superuser=True)
    client = client_as(admin)
    listing = client.get("/admin/notifications/pushsubscription/")
    assert listing.status_code == 200 and "fcm.googleapis.com" in listing.content.decode()
    row = PushSubscription.objects.get()
    change = client.get(f"/admin/notifications/pushsubscription/{row.pk}/change/").content.decode()
    assert row.p256dh not in change and row.auth not in change
    assert client.get("/admin/notifications/pushsubscription/add/").status_code == 403
