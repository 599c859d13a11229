"""Every read of accounts data."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from .models import Block, Profile

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


def blocked_users(*, user: "User") -> QuerySet[Block]:
    """Return the blocks `user` made, with the blocked users, by username."""
    return (
        Block.objects.filter(blocker=user).select_related("blocked").order_by("blocked__username")
    )


def blocks_between(*, user_id: int, other_id: int) -> bool:
    """Return whether one of two users blocks the other."""
    return Block.objects.filter(
        Q(blocker_id=user_id, blocked_id=other_id) | Q(blocker_id=other_id, blocked_id=user_id)
    ).exists()


def blocking(*, blocked_id: int, user_ids: Iterable[int]) -> set[int]:
    """Return those of `user_ids` who block the user `blocked_id`."""
    return set(
        Block.objects.filter(blocked_id=blocked_id, blocker_id__in=list(user_ids)).values_list(
            "blocker_id", flat=True
        )
    )
