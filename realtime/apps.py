from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RealtimeConfig(AppConfig):
    name = "realtime"
    verbose_name = _("Realtime plumbing")

    def ready(self) -> None:
        from . import ratelimit, receivers

        receivers.connect()
        # A mistyped limit stops the process at start, not the first frame it meets.
        ratelimit.check_settings()
