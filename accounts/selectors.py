"""Every read of accounts data."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.conf import settings
from django.utils.translation import get_supported_language_variant

from .models import Profile

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def profile(*, user: "User") -> Profile:
    """Return the user's settings: their row, or the defaults (unsaved)."""
    return Profile.objects.filter(user=user).first() or Profile(user=user)


def language(*, user: "User") -> str:
    """Return the language the user chose ("" when none is stored)."""
    return Profile.objects.filter(user=user).values_list("language", flat=True).first() or ""


def languages(*, user_ids: Iterable[int]) -> dict[int, str]:
    """Return each user's language: their stored one, else the site's default."""
    ids = list(user_ids)
    chosen = dict(
        Profile.objects.filter(user_id__in=ids)
        .exclude(language="")
        .values_list("user_id", "language")
    )
    default = get_supported_language_variant(settings.LANGUAGE_CODE)
    return {user_id: chosen.get(user_id) or default for user_id in ids}


def hiding_read_position(*, user_ids: Iterable[int]) -> set[int]:
    """Return the users among `user_ids` who keep how far they have read to themselves."""
    return set(
        Profile.objects.filter(user_id__in=list(user_ids), share_read_position=False).values_list(
            "user_id", flat=True
        )
    )
