"""The rules every notification's content obeys, shared by services and the admin."""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from realtime.errors import Refused

LEVELS = ("info", "success", "warning", "error")
TITLE_MAX = 200
BODY_MAX = 4000
URL_MAX = 500


@dataclass(frozen=True)
class Content:
    title: str
    body: str
    level: str
    url: str


def is_site_path(url: str) -> bool:
    """Return whether `url` is a path on this site: one leading "/", no scheme or host.

    "//host" and "/\\host" are refused because browsers read both as another site.
    """
    return (
        url.startswith("/")
        and not url.startswith(("//", "/\\"))
        and url.isprintable()
        and not any(ch.isspace() for ch in url)
    )


def clean_content(*, title, body="", level="info", url="") -> Content:
    """Return the trimmed content, or raise Refused saying what is wrong."""
    if not isinstance(title, str) or not title.strip():
        raise Refused(_("A notification needs a non-empty title."))
    title = title.strip()
    if len(title) > TITLE_MAX:
        raise Refused(
            _("The title is %(length)s characters; at most %(max)s are allowed.")
            % {"length": len(title), "max": TITLE_MAX}
        )
    if body is None:
        body = ""
    if not isinstance(body, str):
        raise Refused(_("The body must be a string."))
    body = body.strip()
    if len(body) > BODY_MAX:
        raise Refused(
            _("The body is %(length)s characters; at most %(max)s are allowed.")
            % {"length": len(body), "max": BODY_MAX}
        )
    if level not in LEVELS:
        raise Refused(
            _("Unknown level “%(level)s”; use one of %(levels)s.")
            % {"level": level, "levels": ", ".join(LEVELS)}
        )
    if url is None:
        url = ""
    if not isinstance(url, str):
        raise Refused(_("The url must be a string."))
    url = url.strip()
    if url and not is_site_path(url):
        raise Refused(
            _("The url “%(url)s” is not a path on this site; it must start with a single “/”.")
            % {"url": url}
        )
    if len(url) > URL_MAX:
        raise Refused(
            _("The url is %(length)s characters; at most %(max)s are allowed.")
            % {"length": len(url), "max": URL_MAX}
        )
    return Content(title=title, body=body, level=level, url=url)


def validate_site_path(value: str) -> None:
    """Model field validator: a path on this site (see `is_site_path`)."""
    if value and not is_site_path(value):
        raise ValidationError(
            _("Give a path on this site starting with a single “/”, like /chat/general/."),
            code="invalid",
        )
