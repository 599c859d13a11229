"""The settings page, /accounts/settings/: one's own settings, logged in, with CSRF."""

import pytest
from django.test import Client

from accounts.models import Profile


@pytest.mark.django_db
def test_settings_need_a_login(client):
    response = client.get("/accounts/settings/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_sharing_the_read_position_is_on_until_switched_off(client, alice):
    client.force_login(alice)
    page = client.get("/accounts/settings/")
    assert page.status_code == 200
    assert 'name="share_read_position"' in page.content.decode()
    assert page.context["form"]["share_read_position"].value() is True
    response = client.post("/accounts/settings/", {})  # an unticked box is not posted
    assert response.status_code == 302 and response["Location"] == "/accounts/settings/"
    assert Profile.objects.get(user=alice).share_read_position is False
    client.post("/accounts/settings/", {"share_read_position": "on"})
    assert Profile.objects.get(user=alice).share_read_position is True


@pytest.mark.django_db
def test_settings_change_only_ones_own(client, alice, bob):
    client.force_login(alice)
    client.post("/accounts/settings/", {})
    assert not Profile.objects.filter(user=bob).exists()


@pytest.mark.django_db
def test_settings_refuse_a_post_without_csrf(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/accounts/settings/", {}).status_code == 403
    assert not Profile.objects.filter(user=alice).exists()


@pytest.mark.django_db
def test_every_page_links_to_the_settings(client, alice):
    client.force_login(alice)
    assert 'href="/accounts/settings/"' in client.get("/chat/").content.decode()
