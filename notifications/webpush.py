"""Web Push: the rules a subscription obeys, and sending a notification to the
browsers of a user who has no socket open anywhere.

Payloads are encrypted for each browser (RFC 8291, aes128gcm) and signed with
the server's VAPID key (RFC 8292) by pywebpush; push services answer 201. A 404
or 410 means the browser dropped the subscription: the row goes. The server
posts only to endpoints on the push services of WEBPUSH_ENDPOINT_HOSTS, checked
when a subscription is stored and again before every send (the setting may have
changed since), and never follows a redirect.
"""

import base64
import binascii
import functools
import hashlib
import json
import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from asgiref.sync import async_to_sync
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_tasks import task
from py_vapid import Vapid
from pywebpush import WebPusher
from redis.exceptions import RedisError

from realtime import registry
from realtime.errors import Refused
from realtime.groups import user_group

from . import deliveries, policy
from .models import Notification, PushSubscription
from .validation import is_site_path

logger = logging.getLogger(__name__)

# What a push is sent for. Reactions never (too many, too little news); system
# notifications only reach open tabs; broadcasts as push_wanted says (critical
# ones even in quiet hours).
PUSH_KINDS = frozenset({"mention", "reply", "direct", "broadcast"})
# The contract's payload limit: push services take 4096 bytes of ciphertext,
# and aes128gcm adds a header, a tag and padding.
PAYLOAD_MAX_BYTES = 3 * 1024
# How long a push service keeps a message for a browser that is offline: a
# mention a day old is still worth seeing, one a week old is noise.
PUSH_TTL = 24 * 60 * 60
# Connect and read timeouts for one push service request, in seconds.
PUSH_TIMEOUT = (5, 10)
# Failed sends in a row (timeouts, 5xx, 429) after which a subscription is dropped.
FAILURES_MAX = 10
# Subscriptions one user keeps: a new browser beyond this replaces the oldest.
SUBSCRIPTIONS_PER_USER = 20
# A host name as push services use them (no userinfo, no IDN tricks): the URL
# parser already lowercased it.
HOST_RE = re.compile(r"^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$")
P256_POINT_BYTES = 65
AUTH_SECRET_BYTES = 16


# ---- Configuration -----------------------------------------------------------------


def enabled() -> bool:
    """Return whether the server has VAPID keys and a subject: Web Push is on."""
    return bool(
        settings.WEBPUSH_VAPID_PUBLIC_KEY
        and settings.WEBPUSH_VAPID_PRIVATE_KEY
        and settings.WEBPUSH_VAPID_SUBJECT
    )


@functools.cache
def _vapid(private_key: str) -> Vapid:
    return Vapid.from_string(private_key=private_key)


def vapid() -> Vapid:
    """Return the server's VAPID signer (parsed once per key)."""
    return _vapid(settings.WEBPUSH_VAPID_PRIVATE_KEY)


def public_key_of(signer: Vapid) -> str:
    """Return the base64url uncompressed point browsers take as applicationServerKey."""
    point = signer.public_key.public_bytes(
        encoding=serialization.Encoding.X962, format=serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(value: str) -> bytes:
    """Decode unpadded base64url; raise ValueError on anything else."""
    if not re.fullmatch(r"[A-Za-z0-9_-]*={0,2}", value):
        raise ValueError("not base64url")
    value = value.rstrip("=")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error


# ---- Subscriptions -----------------------------------------------------------------


def endpoint_problem(endpoint: str) -> str | None:
    """Return why the server must not post to `endpoint`, or None when it may."""
    if len(endpoint) > PushSubscription.ENDPOINT_MAX:
        return f"The endpoint is longer than {PushSubscription.ENDPOINT_MAX} characters."
    if not endpoint.isprintable() or any(ch.isspace() for ch in endpoint):
        return "The endpoint is not a URL."
    try:
        parts = urlsplit(endpoint)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return "The endpoint is not a URL."
    schemes = {"https", "http"} if settings.WEBPUSH_ALLOW_HTTP else {"https"}
    if parts.scheme not in schemes:
        return "The endpoint must be an https URL."
    host = parts.hostname or ""
    if parts.username is not None or parts.password is not None or not HOST_RE.match(host):
        return "The endpoint's host is not a push service."
    allowed = settings.WEBPUSH_ENDPOINT_HOSTS
    if not any(host == suffix or host.endswith("." + suffix) for suffix in allowed):
        return f"The endpoint's host {host} is not a known push service."
    return None


@dataclass(frozen=True)
class SubscriptionInfo:
    """A browser's subscription, checked: what PushSubscription stores."""

    endpoint: str
    p256dh: str
    auth: str


def parse_subscription(data: object) -> SubscriptionInfo:
    """Check the browser's `PushSubscription.toJSON()`; raise Refused saying what is wrong."""
    if not isinstance(data, dict):
        raise Refused(_("Send the subscription as a JSON object."))
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or not endpoint:
        raise Refused(_("The subscription has no endpoint."))
    problem = endpoint_problem(endpoint)
    if problem:
        raise Refused(problem)
    if not isinstance(keys, dict):
        raise Refused(_("The subscription has no keys."))
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise Refused(_("The subscription's keys need p256dh and auth."))
    try:
        point = b64url_decode(p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        if len(point) != P256_POINT_BYTES:
            raise ValueError("compressed point")
    except ValueError:
        raise Refused(_("The subscription's p256dh is not a P-256 public key.")) from None
    try:
        secret = b64url_decode(auth)
    except ValueError:
        secret = b""
    if len(secret) != AUTH_SECRET_BYTES:
        raise Refused(_("The subscription's auth is not a 16-byte secret."))
    return SubscriptionInfo(endpoint=endpoint, p256dh=b64url(point), auth=b64url(secret))


# ---- Sending -----------------------------------------------------------------------


def tag_for(notification: Notification) -> str:
    """Grouped notifications share a tag, so the newer one replaces the older on
    the screen instead of stacking."""
    return notification.collapse_key or f"notification-{notification.pk}"


def payload_for(notification: Notification) -> bytes:
    """Return the contract's push payload for `notification`, at most 3 KB of JSON."""
    url = notification.url if notification.url and is_site_path(notification.url) else ""
    data: dict[str, Any] = {
        "title": notification.title,
        "body": notification.body,
        "url": url or reverse("notifications:list"),
        "kind": notification.kind,
        "id": notification.pk,
        "tag": tag_for(notification),
    }

    def encode() -> bytes:
        return json.dumps(data, ensure_ascii=False).encode()

    encoded = encode()
    for field in ("body", "title"):
        if len(encoded) <= PAYLOAD_MAX_BYTES:
            break
        # The longest prefix of the body (then the title) that fits, by
        # bisection: escapes and multi-byte characters make bytes per
        # character vary.
        text, low, high = data[field], 0, len(data[field])
        while low < high:
            middle = (low + high + 1) // 2
            data[field] = text[:middle] + "…"
            if len(encode()) <= PAYLOAD_MAX_BYTES:
                low = middle
            else:
                high = middle - 1
        data[field] = text[:low] + "…" if low else ""
        encoded = encode()
    return encoded


def _topic(tag: str) -> str:
    # A push service keeps one undelivered message per Topic (at most 32
    # base64url characters): a grown group replaces its older self there too.
    return b64url(hashlib.sha256(tag.encode()).digest())[:32]


class _NoRedirects(requests.Session):
    """A session that never follows a redirect: an allowed push service host
    must not be able to send the server somewhere else."""

    def post(self, url, data=None, json=None, **kwargs):
        kwargs["allow_redirects"] = False
        return super().post(url, data=data, json=json, **kwargs)


@dataclass(frozen=True)
class Sent:
    """What one push service said about one subscription."""

    subscription_id: int
    ok: bool
    gone: bool
    detail: str


def send_one(
    subscription: PushSubscription, payload: bytes, *, tag: str, urgency: str, session
) -> Sent:
    """Encrypt `payload` for one browser and post it to its push service."""
    problem = endpoint_problem(subscription.endpoint)
    if problem:
        # The allow-list changed since it was stored: never post there.
        return Sent(subscription.pk, ok=False, gone=False, detail=problem)
    parts = urlsplit(subscription.endpoint)
    claims = {
        "sub": settings.WEBPUSH_VAPID_SUBJECT,
        "aud": f"{parts.scheme}://{parts.netloc}",
        # RFC 8292: at most 24 hours ahead.
        "exp": int(timezone.now().timestamp()) + 12 * 60 * 60,
    }
    headers = {**vapid().sign(claims), "Urgency": urgency, "Topic": _topic(tag)}
    info = {
        "endpoint": subscription.endpoint,
        "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
    }
    try:
        response = WebPusher(info, requests_session=session).send(
            payload, headers, ttl=PUSH_TTL, content_encoding="aes128gcm", timeout=PUSH_TIMEOUT
        )
    except requests.RequestException as error:
        return Sent(subscription.pk, ok=False, gone=False, detail=type(error).__name__)
    status = response.status_code
    if status in (200, 201, 202):
        return Sent(subscription.pk, ok=True, gone=False, detail=str(status))
    return Sent(subscription.pk, ok=False, gone=status in (404, 410), detail=str(status))


async def _online(user_ids: set[int]) -> set[int]:
    online = set()
    for user_id in user_ids:
        if await registry.live_members(f"sockets.{user_group(user_id)}"):
            online.add(user_id)
    return online


def users_online(user_ids: Iterable[int]) -> set[int]:
    """Return which of the users have a socket open on any worker.

    With the registry unreachable, nobody counts as online: a push too many
    beats a mention nobody hears of.
    """
    wanted = set(user_ids)
    if not wanted:
        return set()
    try:
        return async_to_sync(_online)(wanted)
    except (OSError, RedisError):
        logger.warning("socket registry unavailable (redis): pushing to everyone")
        return set()


def push_notifications(notification_ids: list[int]) -> None:
    """Push each notification to its recipient's browsers, when push is wanted
    and the recipient has no socket open anywhere; record every outcome."""
    if not enabled():
        return
    now = timezone.now()
    notifications = list(
        Notification.objects.filter(
            pk__in=notification_ids, kind__in=PUSH_KINDS, read_at__isnull=True
        ).select_related("recipient", "recipient__notification_settings", "broadcast")
    )
    wanted = [n for n in notifications if policy.push_wanted(n, now=now)]
    subscriptions: dict[int, list[PushSubscription]] = defaultdict(list)
    for subscription in PushSubscription.objects.filter(
        user_id__in={n.recipient_id for n in wanted}
    ).order_by("pk"):
        subscriptions[subscription.user_id].append(subscription)
    online = users_online(n.recipient_id for n in wanted if subscriptions[n.recipient_id])
    skipped: dict[str, list[Notification]] = defaultdict(list)
    with _NoRedirects() as session:
        for notification in wanted:
            devices = subscriptions[notification.recipient_id]
            if not devices:
                skipped["no browser subscribed"].append(notification)
            elif notification.recipient_id in online:
                skipped["a socket is open"].append(notification)
            else:
                _push_one(notification, devices, session=session)
    for detail, batch in skipped.items():
        deliveries.record(batch, channel="push", status="skipped", detail=detail)


def _push_one(notification: Notification, devices: list[PushSubscription], *, session) -> None:
    payload, tag = payload_for(notification), tag_for(notification)
    urgency = "high" if notification.kind in {"mention", "direct"} else "normal"
    results = []
    for device in list(devices):
        try:
            result = send_one(device, payload, tag=tag, urgency=urgency, session=session)
        except Exception:
            # One broken subscription (a bad key) must not stop the others.
            logger.exception("push to subscription %s failed", device.pk)
            result = Sent(device.pk, ok=False, gone=False, detail="error")
        results.append(result)
        if _remember(device, result):
            # Gone: the user's next notifications in this batch skip it.
            devices.remove(device)
    sent = sum(result.ok for result in results)
    detail = ", ".join(f"{r.subscription_id}: {r.detail}" for r in results)[:500]
    deliveries.record(
        [notification], channel="push", status="sent" if sent else "failed", detail=detail
    )
    logger.info("push for notification %s: %s of %s browsers", notification.pk, sent, len(results))


def _remember(device: PushSubscription, result: Sent) -> bool:
    """Record the answer on the subscription; return whether it was deleted."""
    rows = PushSubscription.objects.filter(pk=device.pk)
    if result.ok:
        rows.update(last_success_at=timezone.now(), failures=0)
        return False
    if result.gone:
        rows.delete()
        return True
    rows.update(failures=F("failures") + 1)
    deleted, _ = rows.filter(failures__gte=FAILURES_MAX).delete()
    return bool(deleted)


@task()
def push_task(notification_ids: list[int]) -> None:
    """Push stored notifications (enqueued after the transaction that stored them)."""
    push_notifications(notification_ids)
