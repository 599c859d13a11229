"""What chat's selectors and services raise when a rule says no (realtime.errors)."""

from django.utils.translation import gettext

from realtime.errors import Forbidden, NotFound


class RoomNotFound(NotFound):
    """No such room."""

    def __init__(self, detail: str = "No such room.") -> None:
        super().__init__(detail)


class RoomForbidden(Forbidden):
    """The room exists but this user may not read or act in it."""

    def __init__(self, detail: str = "You are not a member of this room.") -> None:
        super().__init__(detail)


class MessageNotFound(NotFound):
    """No such message in this room, or it was deleted."""

    def __init__(self, detail: str = "No such message in this room.") -> None:
        super().__init__(detail)


class MessageForbidden(Forbidden):
    """The message exists and this user may not change it."""

    def __init__(self, detail: str = "You may not change this message.") -> None:
        super().__init__(detail)


class RoomBanned(RoomForbidden):
    """The user is banned from the room: they may not join, read or post in it."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or gettext("You are banned from this room."))
