"""System checks for the Web Push settings: a half-set or broken key pair is
caught at start (`manage.py check`, every worker's start), not at the first send."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from . import webpush


@register()
def webpush_settings(app_configs, **kwargs) -> list:
    names = ["WEBPUSH_VAPID_PUBLIC_KEY", "WEBPUSH_VAPID_PRIVATE_KEY", "WEBPUSH_VAPID_SUBJECT"]
    present = [name for name in names if getattr(settings, name)]
    if not present:
        return []
    if len(present) < len(names):
        missing = ", ".join(name for name in names if name not in present)
        return [
            Warning(
                f"Web Push is off: {missing} is not set.",
                hint="manage.py vapid_keys makes a key pair; the subject is mailto: or https:.",
                id="notifications.W001",
            )
        ]
    try:
        public = webpush.public_key_of(webpush.vapid())
    except Exception as error:  # py_vapid raises whatever its decoder met
        return [
            Error(
                f"WEBPUSH_VAPID_PRIVATE_KEY is not a VAPID private key ({type(error).__name__}).",
                hint="manage.py vapid_keys prints a pair in the form the settings take.",
                id="notifications.E001",
            )
        ]
    errors = []
    if public != settings.WEBPUSH_VAPID_PUBLIC_KEY:
        errors.append(
            Error(
                "WEBPUSH_VAPID_PUBLIC_KEY is not the public half of WEBPUSH_VAPID_PRIVATE_KEY.",
                hint="Browsers would subscribe with a key the server cannot sign for.",
                id="notifications.E002",
            )
        )
    if not settings.WEBPUSH_VAPID_SUBJECT.startswith(("mailto:", "https://")):
        errors.append(
            Error(
                "WEBPUSH_VAPID_SUBJECT must be a mailto: address or an https:// URL.",
                id="notifications.E003",
            )
        )
    return errors
