from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = "Realtime plumbing"

    def ready(self) -> None:
        from . import receivers

        receivers.connect()
