"""What notifications' selectors and services raise when a rule says no (realtime.errors)."""

from realtime.errors import NotFound


class NotificationNotFound(NotFound):
    """No such notification for this user (someone else's is not found either)."""

    def __init__(self, detail: str = "You have no notification with that id.") -> None:
        super().__init__(detail)
