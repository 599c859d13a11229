from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.utils import translation

from chat.signals import blocked_between, read_positions_hidden

from . import selectors, services


def username_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    """Keep the user's look-alike key in step with their username."""
    # A login saves only last_login: no need to touch the key.
    if update_fields is not None and "username" not in update_fields:
        return
    services.username_key_sync(user=instance)


def read_positions_hidden_among(sender, user_ids, **kwargs) -> set[int]:
    """Answer chat: who among these users switched off sharing their read position."""
    return selectors.hiding_read_position(user_ids=user_ids)


def logged_in(sender, request, user, **kwargs) -> None:
    """A user who never chose a language keeps the one they logged in with (the
    switcher's cookie or their browser's): emails and pushes use it too."""
    if request is None or selectors.language(user=user):
        return
    said = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) or request.META.get(
        "HTTP_ACCEPT_LANGUAGE"
    )
    if not said:
        return  # nothing to go by: the default, until they choose
    language = translation.get_language_from_request(request)
    services.profile_language_set(user=user, language=language)


def blocked_between_pair(sender, user_id, other_id, **kwargs) -> bool:
    """Answer chat: whether one of two users blocks the other."""
    return selectors.blocks_between(user_id=user_id, other_id=other_id)


def connect() -> None:
    user_logged_in.connect(logged_in, dispatch_uid="accounts.logged_in")
    blocked_between.connect(blocked_between_pair, dispatch_uid="accounts.blocked_between")
    read_positions_hidden.connect(
        read_positions_hidden_among, dispatch_uid="accounts.read_positions_hidden"
    )
