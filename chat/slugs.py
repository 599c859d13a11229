"""Room addresses: the one place a slug is made from a name.

A direct room's slug is derived from its pair (`dm-<low>-<high>`) and never used
to find it; user-chosen names must still never produce one, nor a slug the URL
routes take for themselves (`/chat/new/`, `/chat/direct/`, `/chat/search/`), or a link to a
direct conversation could land in somebody's room.
"""

from django.utils.text import slugify

DIRECT_PREFIX = "dm-"
# Taken by chat/urls.py before the <slug> routes; "dm" keeps the prefix's stem too.
RESERVED = frozenset({"new", "direct", "dm", "search"})
# What a reserved name gets in front, so "dm 1 9" becomes "room-dm-1-9".
ESCAPE_PREFIX = "room-"
BASE_MAX = 60


def is_reserved(slug: str) -> bool:
    """Return whether only the application may give out `slug`."""
    slug = slug.lower()
    return slug in RESERVED or slug.startswith(DIRECT_PREFIX)


def base_for_name(name: str) -> str:
    """Return the slug a user-chosen room name starts from (before uniqueness)."""
    base = slugify(name)[:BASE_MAX].strip("-") or "room"
    if is_reserved(base):
        base = (ESCAPE_PREFIX + base)[:BASE_MAX].strip("-")
    return base


def direct_slug(low_user_id: int, high_user_id: int) -> str:
    return f"{DIRECT_PREFIX}{low_user_id}-{high_user_id}"
