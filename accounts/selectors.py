"""Every read of accounts data."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import get_supported_language_variant

from realtime.db import rows_in

from .models import Block, Profile

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def profile(*, user: "User") -> Profile:
    """Return the user's settings: their row, or the defaults (unsaved)."""
    return Profile.objects.filter(user=user).first() or Profile(user=user)


def language(*, user: "User") -> str:
    """Return the language the user chose ("" when none is stored)."""
    return Profile.objects.filter(user=user).values_list("language", flat=True).first() or ""


def languages(*, user_ids: Iterable[int]) -> dict[int, str]:
    """Return each user's language: their stored one, else the site's default.

    A statement of fixed shape (realtime.db.rows_in): every notification of
    what someone did asks, in its recipients' languages (PostgreSQL, one user:
    about 370 us of CPU through the ORM).
    """
    ids = list(user_ids)
    profiles = rows_in(Profile, ("user", "language"), user=sorted(set(ids))) if ids else []
    chosen = {profile.user_id: profile.language for profile in profiles if profile.language}
    default = get_supported_language_variant(settings.LANGUAGE_CODE)
    return {user_id: chosen.get(user_id) or default for user_id in ids}


def hiding_read_position(*, user_ids: Iterable[int]) -> set[int]:
    """Return the users among `user_ids` who keep how far they have read to
    themselves. A statement of fixed shape (realtime.db.rows_in): a room's hello
    asks it about every member (PostgreSQL, 25 users: 0.53 ms of CPU through the
    ORM, 0.14 this way)."""
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    hiding = rows_in(Profile, ("id", "user"), user=ids, share_read_position=[False])
    return {profile.user_id for profile in hiding}


def blocked_users(*, user: "User") -> QuerySet[Block]:
    """Return the blocks `user` made, with the blocked users, by username."""
    return (
        Block.objects.filter(blocker=user).select_related("blocked").order_by("blocked__username")
    )


def blocks_between(*, user_id: int, other_id: int) -> bool:
    """Return whether one of two users blocks the other.

    Every send in a direct room asks, with the room locked: a statement of
    fixed shape (realtime.db.rows_in; a user never blocks themselves, so a
    block among the two is one between them). Through the ORM the query's
    building cost more than the database's work.
    """
    pair = [user_id, other_id]
    return bool(rows_in(Block, ("id",), blocker=pair, blocked=pair))


def blocking(*, blocked_id: int, user_ids: Iterable[int]) -> set[int]:
    """Return those of `user_ids` who block the user `blocked_id`.

    A statement of fixed shape (realtime.db.rows_in): every mention and reply
    asks (in one process on PostgreSQL, about 140 us of CPU; through the ORM,
    which also sorted by the model's ordering, about 480 us).
    """
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    return {
        block.blocker_id
        for block in rows_in(Block, ("blocker",), blocked=[blocked_id], blocker=ids)
    }
