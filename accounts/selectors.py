"""Every read of accounts data."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .models import Profile

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def profile(*, user: "User") -> Profile:
    """Return the user's settings: their row, or the defaults (unsaved)."""
    return Profile.objects.filter(user=user).first() or Profile(user=user)


def hiding_read_position(*, user_ids: Iterable[int]) -> set[int]:
    """Return the users among `user_ids` who keep how far they have read to themselves."""
    return set(
        Profile.objects.filter(user_id__in=list(user_ids), share_read_position=False).values_list(
            "user_id", flat=True
        )
    )
