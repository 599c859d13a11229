"""Login throttling (accounts.throttle): the attacks it must stop and the people it
must never stop, through the real forms, on the test redis-server."""

import pytest
from django.contrib.auth.signals import user_login_failed
from django.test import Client, override_settings

from accounts import throttle
from harness.processes import free_port

PASSWORD = "pw-for-tests-1"
# Documentation addresses (RFC 5737, RFC 3849): never anyone's.
OFFICE, HOME, ATTACKER = "192.0.2.10", "198.51.100.20", "203.0.113.30"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("redis_cache")]


def log_in(username, password, *, address, path="/accounts/login/"):
    client = Client(REMOTE_ADDR=address)
    response = client.post(path, {"username": username, "password": password})
    return response, client


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def failed_logins():
    """Count the logins Django checked and found wrong (refused ones are never checked)."""
    seen = []

    def receiver(sender, credentials, request=None, **kwargs):
        seen.append(credentials["username"])

    user_login_failed.connect(receiver, dispatch_uid="test-failed-logins")
    yield seen
    user_login_failed.disconnect(dispatch_uid="test-failed-logins")


def test_admin_login_refuses_the_right_password_after_50_wrong_ones(make_user, failed_logins):
    make_user("boss", is_staff=True, is_superuser=True)
    codes = [
        log_in("boss", f"guess-{n}", address=ATTACKER, path="/admin/login/")[0].status_code
        for n in range(50)
    ]
    assert codes == [200] * 10 + [429] * 40
    response, client = log_in("boss", PASSWORD, address=ATTACKER, path="/admin/login/")
    assert response.status_code == 429
    assert not logged_in(client)
    # Only the first 10 passwords were ever checked.
    assert failed_logins == ["boss"] * 10


def test_throttled_login_is_a_429_page_with_the_reason_and_retry_after(alice):
    for _ in range(10):
        log_in("alice", "wrong", address=ATTACKER)
    response, _ = log_in("alice", "wrong", address=ATTACKER)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins for this account from your network." in page
    assert "Try again in 6 minutes." in page or "Try again in 5 minutes." in page
    assert 270 <= int(response["Retry-After"]) <= 330
    assert response["Content-Type"].startswith("text/html")


def test_eleven_correct_logins_from_one_address_all_succeed(make_user):
    users = [make_user(f"colleague{n}") for n in range(6)]
    for n in range(11):
        response, client = log_in(users[n % 6].username, PASSWORD, address=OFFICE)
        assert response.status_code == 302, n
        assert logged_in(client)


def test_an_office_that_mistypes_still_logs_in(make_user):
    users = [make_user(f"colleague{n}") for n in range(12)]
    for user in users:
        assert log_in(user.username, "typo", address=OFFICE)[0].status_code == 200
        response, client = log_in(user.username, PASSWORD, address=OFFICE)
        assert response.status_code == 302 and logged_in(client)


def test_failures_for_alice_from_one_address_do_not_stop_her_from_another(alice):
    for _ in range(10):
        assert log_in("alice", "wrong", address=ATTACKER)[0].status_code == 200
    assert log_in("alice", PASSWORD, address=ATTACKER)[0].status_code == 429
    response, client = log_in("alice", PASSWORD, address=HOME)
    assert response.status_code == 302 and logged_in(client)


def test_failures_from_many_addresses_never_lock_the_owner_out(alice):
    for n in range(40):
        log_in("alice", "wrong", address=f"203.0.113.{n + 1}")
    response, client = log_in("alice", PASSWORD, address=HOME)
    assert response.status_code == 302 and logged_in(client)


def test_a_successful_login_clears_its_address_failures(alice):
    for _ in range(9):
        log_in("alice", "wrong", address=HOME)
    assert log_in("alice", PASSWORD, address=HOME)[0].status_code == 302
    for _ in range(9):
        assert log_in("alice", "wrong", address=HOME)[0].status_code == 200
    assert log_in("alice", PASSWORD, address=HOME)[0].status_code == 302


def test_a_logged_in_users_posts_to_the_login_form_do_not_count(alice):
    client = Client(REMOTE_ADDR=HOME)
    client.force_login(alice)
    for _ in range(12):  # redirected without a check: the site's login is for visitors
        assert client.post("/accounts/login/", {"username": "alice"}).status_code == 302
    assert log_in("alice", PASSWORD, address=HOME)[0].status_code == 302


def test_case_and_look_alikes_of_a_username_share_its_count(alice):
    for name in ["alice", "Alice", "ALICE", "\u0430lice", "ᴀʟɪᴄᴇ"] * 2:
        assert log_in(name, "wrong", address=ATTACKER)[0].status_code == 200
    assert log_in("alice", PASSWORD, address=ATTACKER)[0].status_code == 429


def test_ipv6_addresses_count_per_64(alice):
    for n in range(10):
        log_in("alice", "wrong", address=f"2001:db8:1:2::{n + 1:x}")
    assert log_in("alice", PASSWORD, address="2001:db8:1:2:ffff::1")[0].status_code == 429
    assert log_in("alice", PASSWORD, address="2001:db8:1:3::1")[0].status_code == 302


@override_settings(AUTH_RATE_LIMIT="3/60")
def test_the_window_slides_instead_of_restarting_at_a_boundary(alice, monkeypatch):
    now = [59.9]  # the last moment of a fixed 60 s window
    monkeypatch.setattr(throttle, "clock", lambda: now[0])
    for _ in range(3):
        assert log_in("alice", "wrong", address=ATTACKER)[0].status_code == 200
    now[0] = 60.1  # a fixed window would start again here
    response, _ = log_in("alice", "wrong", address=ATTACKER)
    assert response.status_code == 429
    assert response["Retry-After"] == "60"  # until 120 s: 60 s, plus one 6 s slice
    now[0] = 119.9
    assert log_in("alice", PASSWORD, address=ATTACKER)[0].status_code == 429
    now[0] = 120.1
    assert log_in("alice", PASSWORD, address=ATTACKER)[0].status_code == 302


@override_settings(AUTH_RATE_LIMIT="3/300")
def test_an_account_under_attack_slows_the_addresses_that_failed_for_it(alice):
    for n in range(3):
        log_in("alice", "wrong", address=f"203.0.113.{n + 1}")
    # The account has 3 failures: an address that failed may try once per 2 s ...
    assert log_in("alice", "wrong", address="203.0.113.1")[0].status_code == 200
    response, _ = log_in("alice", "wrong", address="203.0.113.2")
    assert response.status_code == 429
    assert "slowed down" in response.content.decode()
    assert 1 <= int(response["Retry-After"]) <= 2
    # ... a clean address is not held back ...
    response, client = log_in("alice", PASSWORD, address=HOME)
    assert response.status_code == 302 and logged_in(client)
    # ... and one that failed gets its turn once the delay is over.
    client = Client(REMOTE_ADDR="203.0.113.2")
    wait_until(
        lambda: (
            client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}).status_code
            == 302
        )
    )
    assert logged_in(client)


@override_settings(AUTH_RATE_LIMIT="2/300")
def test_a_spraying_address_is_refused_only_for_the_accounts_it_failed(make_user):
    make_user("alice")
    make_user("bob")
    for n in range(10):  # 5 x 2: the address is spraying
        assert log_in(f"victim{n}", "Summer2026!", address=OFFICE)[0].status_code == 200
    response, _ = log_in("victim0", "Autumn2026!", address=OFFICE)
    assert response.status_code == 429
    assert "from your network for accounts it has already tried" in response.content.decode()
    # Accounts it has not failed for are still checked: right passwords log in ...
    response, client = log_in("alice", PASSWORD, address=OFFICE)
    assert response.status_code == 302 and logged_in(client)
    # ... and a wrong one counts, so that account is refused next.
    assert log_in("bob", "Summer2026!", address=OFFICE)[0].status_code == 200
    assert log_in("bob", PASSWORD, address=OFFICE)[0].status_code == 429
    assert log_in("bob", PASSWORD, address=HOME)[0].status_code == 302


def test_parallel_attempts_cannot_pass_the_limit():
    # Twelve attempts in flight at once (none finished yet): each took its place in
    # the count before its password would be checked, so only 10 go through.
    attempts = [throttle.login_attempt(address=ATTACKER, username="alice") for _ in range(12)]
    assert [a.refusal is None for a in attempts] == [True] * 10 + [False] * 2
    assert attempts[-1].refusal.reason == "address_account"


@override_settings(AUTH_RATE_LIMIT="0")
def test_a_limit_of_0_turns_login_throttling_off(alice):
    for _ in range(30):
        log_in("alice", "wrong", address=ATTACKER)
    assert log_in("alice", PASSWORD, address=ATTACKER)[0].status_code == 302


def test_logins_go_on_while_redis_is_away(settings, alice):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }
    assert log_in("alice", "wrong", address=HOME)[0].status_code == 200
    assert log_in("alice", PASSWORD, address=HOME)[0].status_code == 302


def test_client_address_is_the_ip_or_its_64():
    def address(remote):
        return throttle.client_address(Client(REMOTE_ADDR=remote).get("/healthz").wsgi_request)

    assert address("192.0.2.1") == "192.0.2.1"
    assert address("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert address("::ffff:192.0.2.1") == "192.0.2.1"
    assert address("") == "unknown"


def wait_until(condition, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)
