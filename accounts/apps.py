from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from . import receivers

        post_save.connect(
            receivers.username_saved,
            sender=settings.AUTH_USER_MODEL,
            dispatch_uid="accounts.username_key",
        )
        receivers.connect()
