"""Login and signup throttling, counted in Django's cache (Redis when Redis is
configured, so every worker agrees).

The rule for every login form (the site's and the admin's), with AUTH_RATE_LIMIT = N/W
(10/300 by default). Only failed attempts count; a login that succeeds forgives the
failures of its address for its account (in all three counts below). An "address" is
the client's IP address, or its /64 network for IPv6 (what one subscriber gets); an
"account" is the username's look-alike key (`Alice`, `alice` and `ᴀʟɪᴄᴇ` are one).

1. Address and account (strict): after N failures for an account from an address
   within W seconds, that address is refused for that account, without checking the
   password, until enough of those failures are W seconds old.
2. Account (soft): after N failures for an account from anywhere within W, the
   addresses that have failed for it share one attempt every few seconds (2 s, doubling
   with every further N failures, at most 30 s). An address that has not failed for it
   is never held back, so no attacker, however many addresses it has, can lock the
   owner out: a correct password from a clean address always logs in.
3. Address across accounts (password spraying): after SPRAY_FACTOR x N failures from
   an address within W, that address is refused for every account it has failed for
   within W; an account it has not failed for still gets its attempt checked. An
   office behind one address is slowed only for the accounts it mistyped.

Under rules 2 and 3 a clean address has one attempt in flight at a time; under rule 1
an address never has more than N attempts in flight for an account: each attempt
takes its place in the count before the password is checked, and gives it back if
it succeeds.

Counts are sliding windows: W is cut into SLICES slices and a count is the sum of
the last SLICES + 1, so no W seconds ever hold more than N counted failures (a fixed
window lets 2N through across its boundary), and a failure is forgotten between W
and W + W/SLICES seconds later.
"""

import contextlib
import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from redis.exceptions import RedisError

from realtime.ratelimit import Rate

from .usernames import username_key

logger = logging.getLogger(__name__)

SLICES = 10
SPRAY_FACTOR = 5
ACCOUNT_DELAY_MAX = 30

# The time source for windows; tests move it to cross window boundaries.
clock = time.time

MESSAGES = {
    "address_account": _("Too many failed logins for this account from your network."),
    "address": _("Too many failed logins from your network for accounts it has already tried."),
    "account": _("This account has had many failed logins, so its logins are slowed down."),
    "in_flight": _("A login for this account from your network is still being checked."),
    "signup": _("Too many signups from your network."),
    "password_reset": _("Too many password reset requests."),
}


@dataclass(frozen=True)
class Refusal:
    """Why an attempt was refused, and in how many seconds to try again."""

    reason: str
    retry_after: int

    @property
    def message(self) -> str:
        return gettext("%(reason)s Try again in %(duration)s.") % {
            "reason": MESSAGES[self.reason],
            "duration": _duration(self.retry_after),
        }


@dataclass
class _Counter:
    """One sliding-window count: slice index -> count, read from the cache."""

    scope: str
    ident: str
    rate: Rate
    now: float
    slices: dict[int, int] = field(default_factory=dict)

    @property
    def width(self) -> float:
        return self.rate.seconds / SLICES

    @property
    def current(self) -> int:
        return int(self.now // self.width)

    @property
    def ttl(self) -> int:
        return math.ceil(self.rate.seconds + 2 * self.width)

    def key(self, index: int) -> str:
        digest = hashlib.sha256(self.ident.encode()).hexdigest()[:24]
        return f"throttle:{self.scope}:{digest}:{index}"

    def keys(self) -> dict[int, str]:
        return {i: self.key(i) for i in range(self.current - SLICES, self.current + 1)}

    @property
    def total(self) -> int:
        return sum(self.slices.values())

    def seconds_until_below(self, threshold: int) -> int:
        """Seconds until the count drops below `threshold` as old slices leave."""
        total, free_at = self.total, self.now
        for index in sorted(self.slices):
            if total < threshold:
                break
            total -= self.slices[index]
            # A slice counts while the current one is at most SLICES later.
            free_at = (index + SLICES + 1) * self.width
        return max(1, math.ceil(free_at - self.now))

    def add(self) -> int:
        """Count one in the current slice; return the new total."""
        key = self.key(self.current)
        if cache.add(key, 1, timeout=self.ttl):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.set(key, 1, timeout=self.ttl)
                count = 1
        self.slices[self.current] = count
        return self.total

    def take_back(self, index: int | None = None, count: int = 1) -> None:
        """Uncount `count` from slice `index` (the current one by default)."""
        index = self.current if index is None else index
        with contextlib.suppress(ValueError):  # already expired
            cache.decr(self.key(index), count)
        self.slices[index] = self.slices.get(index, count) - count

    def clear(self) -> None:
        cache.delete_many(list(self.keys().values()))


def _load(*counters: _Counter) -> None:
    """Read every slice of `counters` in one round trip."""
    wanted = {
        key: (counter, index) for counter in counters for index, key in counter.keys().items()
    }
    for key, value in cache.get_many(list(wanted)).items():
        counter, index = wanted[key]
        counter.slices[index] = int(value)


@dataclass
class LoginAttempt:
    """A login attempt let through (refusal None) or refused; report how it ended."""

    refusal: Refusal | None = None
    _pair: _Counter | None = None
    _others: tuple[_Counter, ...] = ()
    _earlier: dict[int, int] = field(default_factory=dict)

    def succeeded(self) -> None:
        """A correct login counts for nothing, and forgives the failures of its
        address for its account: they leave the account's and the address's counts too."""
        if self._pair is None:
            return
        _fail_open(self._pair.clear)
        for counter in self._others:
            for index, count in self._earlier.items():
                if count > 0:
                    _fail_open(lambda c=counter, i=index, n=count: c.take_back(i, n))

    def failed(self) -> None:
        """Count the failure for the account and the address (the pair counted it already)."""
        for counter in self._others:
            _fail_open(counter.add)

    def abandoned(self) -> None:
        """No password was checked after all: give the pair its place back."""
        if self._pair is not None:
            _fail_open(self._pair.take_back)


def login_attempt(*, address: str, username: str) -> LoginAttempt:
    """Decide whether a login attempt from `address` for `username` may be checked."""
    rate = Rate.parse(settings.AUTH_RATE_LIMIT)
    if rate is None:
        return LoginAttempt()
    try:
        return _login_attempt(rate, address, username_key(username[:150]))
    except (OSError, RedisError):
        # Fail open while Redis is away: refusing every login would be worse.
        logger.warning("login throttling unavailable (redis): allowing")
        return LoginAttempt()


def _login_attempt(rate: Rate, address: str, account: str) -> LoginAttempt:
    now = clock()
    pair = _Counter("login-pair", f"{address}|{account}", rate, now)
    by_account = _Counter("login-account", account, rate, now)
    by_address = _Counter("login-address", address, rate, now)
    _load(pair, by_account, by_address)
    limit, spraying = rate.count, SPRAY_FACTOR * rate.count

    if pair.total >= limit:
        return _refused("address_account", pair.seconds_until_below(limit))
    if pair.total and by_address.total >= spraying:
        retry = min(pair.seconds_until_below(1), by_address.seconds_until_below(spraying))
        return _refused("address", retry)
    if by_account.total >= limit:
        if pair.total:
            wait = _take_account_turn(account, by_account.total // limit, now)
            if wait:
                return _refused("account", wait)
        else:
            limit = 1
    if by_address.total >= spraying:
        limit = 1

    earlier = dict(pair.slices)
    if pair.add() > limit:
        pair.take_back()
        if limit == 1:
            return _refused("in_flight", 2)
        return _refused("address_account", pair.seconds_until_below(limit))
    return LoginAttempt(_pair=pair, _others=(by_account, by_address), _earlier=earlier)


def _take_account_turn(account: str, level: int, now: float) -> int:
    """Take the account's next turn for addresses that failed for it; return 0 when
    taken, or the seconds until it frees."""
    delay = min(ACCOUNT_DELAY_MAX, 2**level)
    key = f"throttle:login-turn:{hashlib.sha256(account.encode()).hexdigest()[:24]}"
    if cache.add(key, now + delay, timeout=delay):
        return 0
    free_at = cache.get(key)
    return max(1, math.ceil(free_at - now)) if free_at else 1


def _refused(reason: str, retry_after: int) -> LoginAttempt:
    logger.info("login refused: %s, retry after %s s", reason, retry_after)
    return LoginAttempt(refusal=Refusal(reason, retry_after))


def signup_refusal(*, address: str) -> Refusal | None:
    """Count a signup attempt from `address`; refuse past AUTH_RATE_LIMIT per window."""
    return _counted_refusal("signup", [("signup", address)])


def password_reset_refusal(*, address: str, email: str) -> Refusal | None:
    """Count a password reset request from `address` for `email`; refuse past
    AUTH_RATE_LIMIT per window for either (the second keeps one inbox from being
    flooded from many addresses)."""
    return _counted_refusal(
        "password_reset",
        [("reset-address", address), ("reset-email", email.strip().lower()[:254])],
    )


def _counted_refusal(reason: str, scopes: list[tuple[str, str]]) -> Refusal | None:
    """Count one attempt in each (scope, ident); refuse, counting none, when one is full."""
    rate = Rate.parse(settings.AUTH_RATE_LIMIT)
    if rate is None:
        return None
    now = clock()
    counters = [_Counter(scope, ident, rate, now) for scope, ident in scopes]
    try:
        _load(*counters)
        counted = []
        for counter in counters:
            counted.append(counter)
            if counter.add() > rate.count:
                for each in counted:
                    each.take_back()
                return Refusal(reason, counter.seconds_until_below(rate.count))
    except (OSError, RedisError):
        logger.warning("%s throttling unavailable (redis): allowing", reason)
    return None


def client_address(request) -> str:
    """Return the client's address for counting: the IP, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _fail_open(action) -> None:
    try:
        action()
    except (OSError, RedisError):
        logger.warning("login throttling unavailable (redis): not counted")


def _duration(seconds: int) -> str:
    if seconds < 90:
        return ngettext("%(count)s second", "%(count)s seconds", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": minutes}
