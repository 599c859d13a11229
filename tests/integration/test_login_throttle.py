"""Login throttling across workers: `manage.py serve` workers count failures in one
Redis, so spreading attempts over workers (or over the two login forms) gains nothing."""

from harness.clients import HttpSession, Response


def post_login(worker, path: str, username: str, password: str) -> Response:
    return HttpSession(worker.url).post_form(path, {"username": username, "password": password})


def test_failures_on_two_workers_add_up(start_worker, user_ids, password):
    limit = {"AUTH_RATE_LIMIT": "4/300"}
    a, b = start_worker(**limit), start_worker(**limit)
    for worker in (a, b, a, b):
        assert post_login(worker, "/admin/login/", "admin", "wrong").status == 200
    for worker in (a, b):
        refused = post_login(worker, "/admin/login/", "admin", password)
        assert refused.status == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 330
        assert "Too many failed logins for this account" in refused.body
    # The site's login form counts for the same account ...
    assert post_login(b, "/accounts/login/", "admin", password).status == 429
    # ... and another account from the same address is not held back.
    assert post_login(a, "/accounts/login/", "erin", password).status == 302
