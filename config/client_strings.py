"""The browser client's text, translated on the server.

Every page renders `client_strings()` with json_script as #client-strings, in
the page's language; static/js/i18n.js reads it (`gettext`, `ngettext`), with
English, the source language, as the fallback. Every string a script passes to
those functions is listed here (tests/test_i18n.py checks that none is missing),
so `makemessages` finds them and the catalogs translate them.
"""

from collections.abc import Callable

from django.utils.translation import gettext, gettext_noop, ngettext

STRINGS = (
    gettext_noop("You are signed out. Reload the page to sign in again."),
    gettext_noop("Reconnecting…"),
    gettext_noop("A message is at most %(max)s characters (this one has %(length)s)."),
    gettext_noop("This message is too large to send."),
    gettext_noop("%(count)s over the limit of %(max)s"),
    gettext_noop("%(count)s left"),
    gettext_noop("You"),
    gettext_noop("%(names)s and %(last)s"),
    gettext_noop("deleted message"),
    gettext_noop("Replying to %(name)s"),
    gettext_noop("Editing your message"),
    gettext_noop("(read)"),
    gettext_noop("%(count)s here"),
    gettext_noop("(status unknown)"),
    gettext_noop("Online: unknown"),
    gettext_noop("Not connected: who is online is not known right now."),
    gettext_noop("Push notifications are not set up on this server."),
    gettext_noop("This browser can't receive push notifications."),
    gettext_noop("Notifications are blocked for this site in your browser's settings."),
    gettext_noop("On for this browser."),
    gettext_noop("Off for this browser."),
    gettext_noop("This browser can't show desktop notifications."),
    gettext_noop("Allowed in this browser."),
    gettext_noop("Blocked for this site in your browser's settings."),
    gettext_noop("Not allowed yet in this browser."),
    gettext_noop("The server said %(status)s."),
    gettext_noop("That didn't work: %(error)s"),
    gettext_noop("Seen by %(name)s"),
    gettext_noop("Seen by %(names)s and %(last)s"),
    gettext_noop("Connecting…"),
    gettext_noop("Connected"),
    gettext_noop("Offline · retrying in %(seconds)s s"),
    gettext_noop("Reconnecting in %(seconds)s s"),
    gettext_noop("Signed out: taking you to the login page…"),
    gettext_noop("You no longer have access to this room."),
    gettext_noop("The server closed the connection: a frame was too large."),
    gettext_noop("Too many messages too fast: the server paused you for a moment."),
    gettext_noop("The message you were editing was deleted."),
    gettext_noop("The message you were replying to was deleted."),
    gettext_noop("That message no longer exists."),
    gettext_noop("You can't change that message."),
    gettext_noop("That change was not made."),
    gettext_noop("Something went wrong."),
    gettext_noop("Loading…"),
    gettext_noop("Load older messages"),
    gettext_noop("Not connected: your edit is not saved yet. Try again once connected."),
    gettext_noop("sending…"),
    gettext_noop("waiting…"),
    gettext_noop("The original message is not in this room's history any more."),
    gettext_noop("Not connected: try again once connected."),
    gettext_noop("Not connected: nothing was deleted."),
    gettext_noop("React with %(emoji)s"),
    gettext_noop("Today"),
    gettext_noop("Yesterday"),
    gettext_noop("message deleted"),
    gettext_noop("Reply to a deleted message"),
    gettext_noop("Reply to %(name)s: %(text)s. Show the original"),
    gettext_noop("Edited"),
    gettext_noop("Edited %(time)s"),
    gettext_noop("%(who)s reacted with %(emoji)s"),
    gettext_noop("Open the bell or the list to see them."),
    gettext_noop("%(name)s is typing…"),
    gettext_noop("%(name)s and %(other)s are typing…"),
    gettext_noop("Several people are typing…"),
    gettext_noop("(here now)"),
    gettext_noop("(online elsewhere)"),
    gettext_noop("(offline)"),
)

# Plural forms by the browser's plural category (Intl.PluralRules): the count
# each category is rendered with on the server (Russian: 1 one, 2 few, 5 many;
# English: 1 one, 5 other).
CATEGORIES = (("one", 1), ("few", 2), ("many", 5), ("other", 5))


def _plurals() -> dict[str, Callable[[int], str]]:
    """The plural strings, by their singular (literal calls, for makemessages)."""
    return {
        "%(count)s person": lambda n: ngettext("%(count)s person", "%(count)s people", n),
        "%(names)s and %(count)s other": lambda n: ngettext(
            "%(names)s and %(count)s other", "%(names)s and %(count)s others", n
        ),
        "%(count)s unread": lambda n: ngettext("%(count)s unread", "%(count)s unread", n),
        "Seen by %(names)s and %(count)s other": lambda n: ngettext(
            "Seen by %(names)s and %(count)s other", "Seen by %(names)s and %(count)s others", n
        ),
        "%(count)s new notification": lambda n: ngettext(
            "%(count)s new notification", "%(count)s new notifications", n
        ),
    }


def client_strings() -> dict[str, str | dict[str, str]]:
    """Return the client's strings in the active language."""
    strings: dict[str, str | dict[str, str]] = {msgid: gettext(msgid) for msgid in STRINGS}
    for singular, render in _plurals().items():
        strings[singular] = {category: render(count) for category, count in CATEGORIES}
    return strings
