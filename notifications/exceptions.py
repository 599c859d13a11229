"""What selectors and services raise when a rule says no."""


class NotificationNotFound(Exception):
    """No such notification for this user (someone else's is not found either)."""
