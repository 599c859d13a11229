import pytest
from django.contrib.auth import get_user_model


@pytest.mark.django_db
def test_signup_creates_account_and_logs_in(client):
    response = client.post(
        "/accounts/signup/",
        {"username": "dora", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert response.status_code == 302
    assert get_user_model().objects.filter(username="dora").exists()
    assert client.get("/chat/").status_code == 200


@pytest.mark.django_db
def test_signup_with_bad_input_shows_errors_and_creates_nothing(client):
    response = client.post(
        "/accounts/signup/", {"username": "dora", "password1": "x", "password2": "y"}
    )
    assert response.status_code == 200
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_login_form_logs_in(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-for-tests-1"})
    assert response.status_code == 302 and response["Location"] == "/chat/"
