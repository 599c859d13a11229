"""The preferences page `/settings/notifications/`: login, CSRF, valid posts
stored, refused posts storing nothing with clear errors, rooms' levels and mutes."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from chat import services as chat
from chat.models import Membership
from notifications.models import NotificationSettings

pytestmark = pytest.mark.django_db

URL = "/settings/notifications/"


@pytest.fixture
def room(alice, bob):
    room = chat.room_create(name="General", created_by=alice)
    Membership.objects.create(room=room, user=bob)
    return room


def client_for(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def valid(**fields) -> dict:
    data = {
        "email_kinds": ["mention", "direct"],
        "email_timing": "daily",
        "digest_hour": "7",
        "push_kinds": ["mention", "reaction"],
        "time_zone": "Europe/Berlin",
        "quiet_start": "22:00",
        "quiet_end": "07:00",
    }
    data.update(fields)
    return data


def test_login_required(client):
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_header_links_to_it(alice):
    html = client_for(alice).get("/notifications/").content.decode()
    assert f'href="{URL}"' in html


def test_the_page_shows_the_defaults_without_storing_them(alice, room):
    response = client_for(alice).get(URL)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count("checked") == 3 + 4 + 1  # email kinds, push kinds, timing "soon"
    assert '<option value="Europe/Berlin">' in html
    assert "General" in html
    assert not NotificationSettings.objects.exists()


def test_a_valid_post_is_stored(alice, room):
    response = client_for(alice).post(URL, valid(**{f"room-{room.pk}-level": "all"}))
    assert response.status_code == 302 and response["Location"] == URL
    row = NotificationSettings.objects.get(user=alice)
    assert row.email_kinds == ["mention", "direct"] and row.push_kinds == ["mention", "reaction"]
    assert row.email_timing == "daily" and row.digest_hour == 7
    assert row.time_zone == "Europe/Berlin"
    assert (row.quiet_start, row.quiet_end) == (time(22), time(7))
    # Posting again updates the one row.
    client_for(alice).post(
        URL, valid(quiet_start="", quiet_end="", email_kinds=[], **{f"room-{room.pk}-level": "all"})
    )
    row = NotificationSettings.objects.get(user=alice)
    assert row.quiet_hours is None and row.email_kinds == []


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "Select a valid choice"),
        ({"quiet_end": ""}, "quiet_end", "Give both times for quiet hours"),
        ({"quiet_end": "22:00"}, "quiet_end", "must end at another time"),
        ({"quiet_start": "25:00"}, "quiet_start", "Enter a valid time"),
        ({"digest_hour": "24"}, "digest_hour", "Select a valid choice"),
        ({"email_timing": "hourly"}, "email_timing", "Select a valid choice"),
        ({"email_kinds": ["reaction"]}, "email_kinds", "Select a valid choice"),
        ({"push_kinds": ["system"]}, "push_kinds", "Select a valid choice"),
    ],
)
def test_a_refused_post_stores_nothing_and_says_why(alice, room, fields, field, message):
    response = client_for(alice).post(URL, valid(**fields))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert field in response.context["form"].errors
    assert not NotificationSettings.objects.exists()


def test_csrf_is_checked(alice):
    client = client_for(alice, enforce_csrf_checks=True)
    assert client.post(URL, valid()).status_code == 403
    assert not NotificationSettings.objects.exists()


def test_room_level_and_mute_in_the_users_time_zone(alice, room):
    NotificationSettings.objects.create(user=alice, time_zone="America/New_York")
    until = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo("America/New_York"))
    local = until.strftime("%Y-%m-%dT%H:%M")
    response = client_for(alice).post(
        URL,
        valid(
            time_zone="America/New_York",
            **{f"room-{room.pk}-level": "mentions", f"room-{room.pk}-muted_until": local},
        ),
    )
    assert response.status_code == 302
    membership = Membership.objects.get(room=room, user=alice)
    assert membership.notify_level == "mentions"
    assert membership.muted_until == until.replace(second=0, microsecond=0).astimezone(UTC)
    # Shown back as it was entered.
    assert f'value="{local}"' in client_for(alice).get(URL).content.decode()
    # Unmuting: an empty time.
    client_for(alice).post(
        URL, valid(time_zone="America/New_York", **{f"room-{room.pk}-level": "all"})
    )
    membership.refresh_from_db()
    assert membership.notify_level == "all" and membership.muted_until is None


def test_a_mute_in_the_past_or_a_bad_level_refuses_everything(alice, bob, room):
    past = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client_for(bob).post(
        URL, valid(**{f"room-{room.pk}-level": "all", f"room-{room.pk}-muted_until": past})
    )
    assert response.status_code == 400
    assert "Choose a time in the future" in response.content.decode()
    response = client_for(bob).post(URL, valid(**{f"room-{room.pk}-level": "loud"}))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not NotificationSettings.objects.exists()
    membership = Membership.objects.get(room=room, user=bob)
    assert membership.notify_level == "all" and membership.muted_until is None


def test_only_your_own_rooms_are_listed_and_changed(alice, bob, carol, room):
    other = chat.room_create(name="Carol's", created_by=carol)
    html = client_for(bob).get(URL).content.decode()
    assert "General" in html and "Carol&#x27;s" not in html
    response = client_for(bob).post(
        URL, valid(**{f"room-{room.pk}-level": "all", f"room-{other.pk}-level": "none"})
    )
    assert response.status_code == 302
    assert Membership.objects.get(room=other, user=carol).notify_level == "all"


def test_a_room_left_out_of_the_post_stays_as_it_was(alice, room):
    # Joined in another tab after the page was shown.
    chat.membership_notify_set(room=room, user=alice, level="mentions")
    response = client_for(alice).post(URL, valid())
    assert response.status_code == 302
    assert NotificationSettings.objects.filter(user=alice).exists()
    assert Membership.objects.get(room=room, user=alice).notify_level == "mentions"


def test_room_names_are_escaped(alice):
    chat.room_create(name="<script>x</script>", created_by=alice)
    html = client_for(alice).get(URL).content.decode()
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
