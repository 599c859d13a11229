from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext

from realtime.errors import NotFound, Refused

from .models import Block, Profile, UsernameKey
from .usernames import username_key
from .validators import LOOKS_TAKEN

if TYPE_CHECKING:
    # The model get_user_model() returns (AUTH_USER_MODEL is Django's own).
    from django.contrib.auth.models import User


@transaction.atomic
def username_key_sync(*, user: "User") -> UsernameKey:
    """Store the user's look-alike key; NULL when another account already has it."""
    key = username_key(user.get_username())
    try:
        with transaction.atomic():
            row, _ = UsernameKey.objects.update_or_create(user=user, defaults={"key": key})
    except IntegrityError:
        # Staff (createsuperuser, the admin, the demo seed) may make a look-alike on
        # purpose; the account that had the look first keeps the key.
        row, _ = UsernameKey.objects.update_or_create(user=user, defaults={"key": None})
    return row


@transaction.atomic
def account_create(*, username: str, password: str, email: str = "") -> "User":
    """Create an account from signup; raise ValidationError if its look is taken.

    The form checked the name already; this catches a look-alike signed up in
    between (the unique key decides), and rolls the account back.
    """
    user = get_user_model().objects.create_user(username=username, password=password, email=email)
    if UsernameKey.objects.get(user=user).key is None:
        raise ValidationError(LOOKS_TAKEN, code="look_alike")
    return user


@transaction.atomic
def profile_update(*, user: "User", share_read_position: bool, email: str | None = None) -> Profile:
    """Store the user's settings (`email` None: the address stays as it is)."""
    row, _ = Profile.objects.update_or_create(
        user=user, defaults={"share_read_position": share_read_position}
    )
    if email is None:
        return row
    email = get_user_model().objects.normalize_email(email)
    if user.email != email:
        user.email = email
        user.save(update_fields=["email"])
    return row


@transaction.atomic
def profile_language_set(*, user: "User", language: str) -> Profile:
    """Store the language the user reads the site in (one of settings.LANGUAGES)."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError(gettext("Unknown language."), code="invalid")
    row, _ = Profile.objects.update_or_create(user=user, defaults={"language": language})
    return row


def _user_named(username: str) -> "User":
    name = (username or "").strip().lstrip("@")
    user = get_user_model().objects.filter(username__iexact=name, is_active=True).first()
    if not name or user is None:
        raise NotFound(gettext("There is no user called %(name)s.") % {"name": repr(name)})
    return user


@transaction.atomic
def user_block(*, user: "User", username: str) -> Block:
    """Block a user: no direct conversation between the two of them (neither
    may open or write in one), and their mentions no longer notify `user`.
    Blocking someone blocked already changes nothing; blocking yourself is refused."""
    other = _user_named(username)
    if other.pk == user.pk:
        raise Refused(gettext("You can't block yourself."))
    block, _ = Block.objects.get_or_create(blocker=user, blocked=other)
    return block


@transaction.atomic
def user_unblock(*, user: "User", username: str) -> bool:
    """Lift a block `user` made; return whether there was one."""
    other = _user_named(username)
    deleted, _ = Block.objects.filter(blocker=user, blocked=other).delete()
    return bool(deleted)
