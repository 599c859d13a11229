from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from . import push_receivers, receivers

        receivers.connect()
        push_receivers.connect()
