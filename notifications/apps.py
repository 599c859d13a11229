from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from . import (
            checks,  # noqa: F401 (registers its system checks)
            email_receivers,
            push_receivers,
            receivers,
        )

        receivers.connect()
        email_receivers.connect()
        push_receivers.connect()
