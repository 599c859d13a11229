from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

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
