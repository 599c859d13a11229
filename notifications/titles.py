"""Titles of the notifications other people's actions cause, in the language
the translation machinery has active: services.notify renders each in its
recipient's language (accounts' stored language), once per language, and again
when a grouped notification grows ("alice and 3 others reacted…").

A title is a callable `(names, others) -> str`: `names` are the newest actors'
usernames (one, or two for "alice and bob"), `others` how many actors there are
besides the newest one.
"""

from dataclasses import dataclass

from django.utils.translation import gettext, ngettext


@dataclass(frozen=True)
class DirectTitle:
    def __call__(self, names: list[str], others: int) -> str:
        if others <= 0:
            return gettext("%(name)s sent you a message") % {"name": names[0]}
        if others == 1 and len(names) == 2:
            return gettext("%(name)s and %(other)s sent you messages") % {
                "name": names[0],
                "other": names[1],
            }
        return ngettext(
            "%(name)s and %(count)s other sent you messages",
            "%(name)s and %(count)s others sent you messages",
            others,
        ) % {"name": names[0], "count": others}


@dataclass(frozen=True)
class MentionTitle:
    room: str

    def __call__(self, names: list[str], others: int) -> str:
        if others <= 0:
            return gettext("%(name)s mentioned you in %(room)s") % {
                "name": names[0],
                "room": self.room,
            }
        if others == 1 and len(names) == 2:
            return gettext("%(name)s and %(other)s mentioned you in %(room)s") % {
                "name": names[0],
                "other": names[1],
                "room": self.room,
            }
        return ngettext(
            "%(name)s and %(count)s other mentioned you in %(room)s",
            "%(name)s and %(count)s others mentioned you in %(room)s",
            others,
        ) % {"name": names[0], "count": others, "room": self.room}


@dataclass(frozen=True)
class ReplyTitle:
    def __call__(self, names: list[str], others: int) -> str:
        if others <= 0:
            return gettext("%(name)s replied to your message") % {"name": names[0]}
        if others == 1 and len(names) == 2:
            return gettext("%(name)s and %(other)s replied to your message") % {
                "name": names[0],
                "other": names[1],
            }
        return ngettext(
            "%(name)s and %(count)s other replied to your message",
            "%(name)s and %(count)s others replied to your message",
            others,
        ) % {"name": names[0], "count": others}


@dataclass(frozen=True)
class ReactionTitle:
    def __call__(self, names: list[str], others: int) -> str:
        if others <= 0:
            return gettext("%(name)s reacted to your message") % {"name": names[0]}
        if others == 1 and len(names) == 2:
            return gettext("%(name)s and %(other)s reacted to your message") % {
                "name": names[0],
                "other": names[1],
            }
        return ngettext(
            "%(name)s and %(count)s other reacted to your message",
            "%(name)s and %(count)s others reacted to your message",
            others,
        ) % {"name": names[0], "count": others}
