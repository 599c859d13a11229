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


def blocked_between_pair(sender, user_id, other_id, **kwargs) -> bool:
    """Answer chat: whether one of two users blocks the other."""
    return selectors.blocks_between(user_id=user_id, other_id=other_id)


def connect() -> None:
    blocked_between.connect(blocked_between_pair, dispatch_uid="accounts.blocked_between")
    read_positions_hidden.connect(
        read_positions_hidden_among, dispatch_uid="accounts.read_positions_hidden"
    )
