"""What chat's selectors and services raise when a rule says no (realtime.errors)."""

from django.utils.translation import gettext as _

from realtime.errors import Forbidden, NotFound


class RoomNotFound(NotFound):
    """No such room."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or _("No such room."))


class RoomForbidden(Forbidden):
    """The room exists but this user may not read or act in it."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or _("You are not a member of this room."))


class MessageNotFound(NotFound):
    """No such message in this room, or it was deleted."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or _("No such message in this room."))


class MessageForbidden(Forbidden):
    """The message exists and this user may not change it."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or _("You may not change this message."))


class RoomBanned(RoomForbidden):
    """The user is banned from the room: they may not join, read or post in it."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or _("You are banned from this room."))
