from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from . import email_receivers, receivers

        receivers.connect()
        email_receivers.connect()
