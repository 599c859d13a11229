"""Fixtures for the notification tests: users in bulk, groups, sockets on
`/ws/notifications/`, and a record of what reached the channel layer."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from harness.permissions import broadcast_permissions


@pytest.fixture
def make_users(django_user_model):
    """Create `n` active users in one query, named prefix0, prefix1, ..."""

    def make(n: int, prefix: str = "user"):
        django_user_model.objects.bulk_create(
            [django_user_model(username=f"{prefix}{i}", password="!") for i in range(n)]
        )
        return list(django_user_model.objects.filter(username__startswith=prefix).order_by("pk"))

    return make


@pytest.fixture
def staff_group():
    return Group.objects.create(name="staff-room")


@pytest.fixture
def broadcaster(make_user):
    """A staff user allowed to add (send), view and change broadcasts."""
    user = make_user("announcer", is_staff=True)
    user.user_permissions.add(*broadcast_permissions("add", "view", "change"))
    return get_user_model().objects.get(pk=user.pk)


@pytest.fixture
def webpush_on(settings):
    """Web Push switched on with a fresh VAPID key pair; returns the public key."""
    from py_vapid import Vapid

    from notifications.webpush import b64url, public_key_of

    signer = Vapid()
    signer.generate_keys()
    private = signer.private_key.private_numbers().private_value.to_bytes(32, "big")
    settings.WEBPUSH_VAPID_PUBLIC_KEY = public_key_of(signer)
    settings.WEBPUSH_VAPID_PRIVATE_KEY = b64url(private)
    settings.WEBPUSH_VAPID_SUBJECT = "mailto:ops@example.com"
    return settings.WEBPUSH_VAPID_PUBLIC_KEY


@pytest.fixture
def push_service(settings):
    """A stand-in push service on a loopback port, the only host endpoints may name."""
    from harness.push_service import PushService

    settings.WEBPUSH_ENDPOINT_HOSTS = ["127.0.0.1"]
    settings.WEBPUSH_ALLOW_HTTP = True
    with PushService() as service:
        yield service
