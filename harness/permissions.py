"""Permissions the tests grant to staff users."""

from django.contrib.auth.models import Permission


def broadcast_permissions(*actions: str) -> list[Permission]:
    """Return the broadcast permissions for `actions` ("add", "view", "change", ...)."""
    return list(
        Permission.objects.filter(
            content_type__app_label="notifications",
            codename__in=[f"{action}_broadcast" for action in actions],
        )
    )
