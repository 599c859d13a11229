"""Room addresses: the one place a slug is made from a name.

A direct room's slug is derived from its pair (`dm-<low>-<high>`) and never used
to find it; user-chosen names must still never produce one, nor a slug the URL
routes take for themselves (`/chat/new/`, `/chat/direct/`, `/chat/files/`,
`/chat/search/`), or a link to a direct conversation could land in somebody's room.
"""

from django.utils.text import slugify

DIRECT_PREFIX = "dm-"
# Taken by chat/urls.py before the <slug> routes; "dm" keeps the prefix's stem too.
RESERVED = frozenset({"new", "direct", "dm", "files", "search"})
# What a reserved name gets in front, so "dm 1 9" becomes "room-dm-1-9".
ESCAPE_PREFIX = "room-"
BASE_MAX = 60


# Cyrillic to Latin letters (Russian, Ukrainian, Belarusian), after the common
# street-sign romanisation, so "Привет" is /chat/privet/ and not /chat/room/.
# Other scripts still fall back to "room".
# fmt: off
_LATIN = [
    "a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
    "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "-", "y", "-", "e", "yu", "ya", "i", "ye", "yi",
    "g", "u",
]
# fmt: on
_CYRILLIC = {
    letter: latin.strip("-")
    for letter, latin in zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюяієїґў", _LATIN, strict=True)
}
_TRANSLITERATION = str.maketrans(
    {**_CYRILLIC, **{key.upper(): value.capitalize() for key, value in _CYRILLIC.items()}}
)


def transliterate(text: str) -> str:
    """Return `text` with its Cyrillic letters in Latin ones."""
    return text.translate(_TRANSLITERATION)


def is_reserved(slug: str) -> bool:
    """Return whether only the application may give out `slug`."""
    slug = slug.lower()
    return slug in RESERVED or slug.startswith(DIRECT_PREFIX)


def base_for_name(name: str) -> str:
    """Return the slug a user-chosen room name starts from (before uniqueness)."""
    base = slugify(transliterate(name))[:BASE_MAX].strip("-") or "room"
    if is_reserved(base):
        base = (ESCAPE_PREFIX + base)[:BASE_MAX].strip("-")
    return base


def direct_slug(low_user_id: int, high_user_id: int) -> str:
    return f"{DIRECT_PREFIX}{low_user_id}-{high_user_id}"
