"""`/notifications/` and the mark-read POSTs: login, ownership (IDOR), CSRF."""

import pytest
from django.test import Client

from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_as():
    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/notifications/"),
        ("post", "/notifications/1/read/"),
        ("post", "/notifications/read-all/"),
    ],
)
def test_anonymous_is_sent_to_login(method, path):
    response = getattr(Client(), method)(path)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_list_shows_only_own_newest_first_paginated(client_as, alice, bob):
    for i in range(30):
        services.notify(alice, title=f"alice {i}")
    services.notify(bob, title="for bob")
    page1 = client_as(alice).get("/notifications/")
    titles = [n.title for n in page1.context["page"]]
    assert titles == [f"alice {i}" for i in range(29, 4, -1)]
    assert "for bob" not in page1.content.decode()
    page2 = client_as(alice).get("/notifications/?page=2")
    assert [n.title for n in page2.context["page"]] == [f"alice {i}" for i in range(4, -1, -1)]


def test_list_styles_read_and_unread_apart_and_links_to_url(client_as, alice):
    [read] = services.notify(alice, title="seen it", url="/chat/general/")
    services.notify(alice, title="new one")
    services.notification_mark_read(user=alice, notification_id=read.pk)
    html = client_as(alice).get("/notifications/").content.decode()
    assert html.count("notif-entry notif-level-info notif-unread") == 1
    assert 'href="/chat/general/"' in html


def test_user_text_is_escaped(client_as, alice):
    services.notify(alice, title="<script>alert(1)</script>", body="<img src=x onerror=alert(1)>")
    html = client_as(alice).get("/notifications/").content.decode()
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_bell_shows_the_unread_count_on_every_page(client_as, alice):
    services.notify(alice, title="one")
    services.notify(alice, title="two")
    html = client_as(alice).get("/notifications/").content.decode()
    assert 'id="notif-bell"' in html and '<span id="notif-count-n">2</span>' in html
    assert "<script>" not in html.replace("<script src=", "")


def test_read_marks_own_notification_and_redirects_back(client_as, alice):
    [row] = services.notify(alice, title="x")
    response = client_as(alice).post(f"/notifications/{row.pk}/read/", {"next": "/chat/"})
    assert response.status_code == 302 and response["Location"] == "/chat/"
    assert Notification.objects.get(pk=row.pk).read_at is not None


def test_read_ignores_a_foreign_next(client_as, alice):
    [row] = services.notify(alice, title="x")
    response = client_as(alice).post(
        f"/notifications/{row.pk}/read/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/notifications/"


def test_read_of_another_users_notification_is_404(client_as, alice, bob):
    [row] = services.notify(bob, title="bob's")
    response = client_as(alice).post(f"/notifications/{row.pk}/read/")
    assert response.status_code == 404
    assert Notification.objects.get(pk=row.pk).read_at is None


def test_read_of_a_missing_id_is_404(client_as, alice):
    assert client_as(alice).post("/notifications/999999/read/").status_code == 404


def test_read_answers_json_to_scripts(client_as, alice):
    rows = services.notify(alice, title="a") + services.notify(alice, title="b")
    response = client_as(alice).post(
        f"/notifications/{rows[0].pk}/read/", headers={"accept": "application/json"}
    )
    assert response.json() == {"unread": 1, "last_id": rows[1].pk}


def test_read_all_marks_only_own(client_as, alice, bob):
    services.notify([alice, bob], title="both")
    response = client_as(alice).post("/notifications/read-all/")
    assert response.status_code == 302
    assert alice.notifications.filter(read_at__isnull=True).count() == 0
    assert bob.notifications.filter(read_at__isnull=True).count() == 1


def test_reading_needs_post(client_as, alice):
    [row] = services.notify(alice, title="x")
    assert client_as(alice).get(f"/notifications/{row.pk}/read/").status_code == 405
    assert client_as(alice).get("/notifications/read-all/").status_code == 405


def test_reading_needs_the_csrf_token(alice):
    [row] = services.notify(alice, title="x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(f"/notifications/{row.pk}/read/").status_code == 403
    assert client.post("/notifications/read-all/").status_code == 403
    assert Notification.objects.get(pk=row.pk).read_at is None
