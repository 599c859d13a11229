"""What selectors and services raise when a rule says no."""


class RoomNotFound(Exception):
    """No such room."""


class RoomForbidden(Exception):
    """The room exists but this user may not read or act in it."""


class Rejected(Exception):
    """Input the contract refuses; `code` is the error frame's code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
