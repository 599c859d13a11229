"""What notifications' selectors and services raise when a rule says no (realtime.errors)."""

from django.utils.translation import gettext as _

from realtime.errors import NotFound


class NotificationNotFound(NotFound):
    """No such notification for this user (someone else's is not found either)."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or _("You have no notification with that id."))
