from . import services


def username_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    """Keep the user's look-alike key in step with their username."""
    # A login saves only last_login: no need to touch the key.
    if update_fields is not None and "username" not in update_fields:
        return
    services.username_key_sync(user=instance)
