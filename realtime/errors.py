"""The one error for "the contract says no": services and selectors raise it,
consumers answer it with an `error` frame (or the matching close code), views
and forms show its detail, management commands print it."""

from typing import Any, ClassVar


class Refused(ValueError):
    """An operation the contract refuses; `code` is the error frame's code
    (docs/protocol.md: invalid, too_large, not_found, forbidden, ...).

    Raised before anything is stored, or inside the transaction that would
    store it, so a refused operation changes nothing.
    """

    default_code: ClassVar[str] = "invalid"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code or self.default_code
        self.detail = detail
        self.extra = extra  # more fields for the error frame (retry_after, before_seq)

    def frame(self, client_id: str | None = None) -> dict[str, Any]:
        """Return the contract's `error` frame for this refusal."""
        frame = {"type": "error", "code": self.code, "detail": self.detail, **self.extra}
        if client_id is not None:
            frame["client_id"] = client_id
        return frame


class NotFound(Refused):
    """No such thing, or not one this user may know of."""

    default_code = "not_found"


class Forbidden(Refused):
    """It exists, and this user may not read it or act on it."""

    default_code = "forbidden"
