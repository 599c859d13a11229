"""Email addresses on accounts (signup, settings) and password reset by email,
sent by a background task after the request."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django_tasks_db.models import DBTaskResult


@pytest.mark.django_db
def test_signup_takes_an_optional_email(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "dora",
            "email": "Dora@Example.COM",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 302
    assert get_user_model().objects.get(username="dora").email == "Dora@example.com"


@pytest.mark.django_db
def test_signup_refuses_a_malformed_email(client):
    response = client.post(
        "/accounts/signup/",
        {
            "username": "dora",
            "email": "not an address",
            "password1": "a-long-pass-phrase",
            "password2": "a-long-pass-phrase",
        },
    )
    assert response.status_code == 200
    assert "Enter a valid email address." in response.content.decode()
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_settings_change_and_clear_the_email(client, alice):
    client.force_login(alice)
    assert client.post("/accounts/settings/", {"email": "alice@example.com"}).status_code == 302
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"
    page = client.get("/accounts/settings/").content.decode()
    assert 'value="alice@example.com"' in page
    client.post("/accounts/settings/", {"email": ""})
    alice.refresh_from_db()
    assert alice.email == ""
    bad = client.post("/accounts/settings/", {"email": "nope"})
    assert bad.status_code == 200 and "Enter a valid email address." in bad.content.decode()


@pytest.mark.django_db
def test_login_page_links_to_password_reset(client):
    assert 'href="/accounts/password-reset/"' in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_password_reset_is_emailed_by_a_task_and_sets_a_new_password(
    client, alice, run_tasks, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://chat.example.com"
    alice.email = "alice@example.com"
    alice.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password-reset/", {"email": "ALICE@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/password-reset/sent/"
    assert mail.outbox == []  # never inside the request
    # The task's arguments name the user (and the language the reset was asked
    # in); the link (and its token) is made when it runs.
    row = DBTaskResult.objects.get()
    assert row.args_kwargs == {"args": [alice.pk], "kwargs": {"language": "en"}}
    assert run_tasks() == 1
    (email,) = mail.outbox
    assert email.to == ["alice@example.com"]
    assert email.subject == "Reset your Relay password"
    assert email.alternatives[0][1] == "text/html"
    link = re.search(r"https://chat\.example\.com(/accounts/reset/\S+/)", email.body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "another-long-phrase", "new_password2": "another-long-phrase"},
    )
    assert done.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("another-long-phrase")
    # The link works once.
    again = client.get(link, follow=True).content.decode()
    assert "This link has expired" in again


@pytest.mark.django_db
def test_password_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(
    client, run_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert run_tasks() == 0
    assert mail.outbox == []


@pytest.mark.django_db
def test_password_reset_requests_are_throttled_per_email_address(client, alice, settings):
    settings.AUTH_RATE_LIMIT = "2/300"
    alice.email = "alice@example.com"
    alice.save()
    for n in range(2):
        # From a different address each time: the count per email address still holds.
        response = client.post(
            "/accounts/password-reset/", {"email": "alice@example.com"}, REMOTE_ADDR=f"10.0.0.{n}"
        )
        assert response.status_code == 302
    refused = client.post(
        "/accounts/password-reset/", {"email": "alice@example.com"}, REMOTE_ADDR="10.0.0.9"
    )
    assert refused.status_code == 429
    assert "Too many password reset requests." in refused.content.decode()
    assert int(refused["Retry-After"]) > 0
