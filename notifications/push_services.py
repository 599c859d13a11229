"""Writes on Web Push subscriptions (notifications.webpush checks and sends)."""

import hashlib

from django.db import transaction

from .models import PushSubscription
from .webpush import SUBSCRIPTIONS_PER_USER, SubscriptionInfo


def session_hash(session_key: str | None) -> str:
    """Return what a subscription keeps of the login that made it (never the key)."""
    if not session_key:
        return ""
    return hashlib.sha256(session_key.encode()).hexdigest()


@transaction.atomic
def push_subscribe(*, user, info: SubscriptionInfo, session_key: str | None) -> PushSubscription:
    """Store the browser's subscription for `user`: the same endpoint again
    updates its row, taking it over from whoever subscribed it before (the
    browser is theirs no longer)."""
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=info.endpoint,
        defaults={
            "user": user,
            "p256dh": info.p256dh,
            "auth": info.auth,
            "session_hash": session_hash(session_key),
            "failures": 0,
        },
    )
    # Browsers that were never unsubscribed (reinstalled, cleared) pile up;
    # past the limit the oldest go.
    stale = PushSubscription.objects.filter(user=user).order_by("-updated_at", "-pk")[
        SUBSCRIPTIONS_PER_USER:
    ]
    PushSubscription.objects.filter(pk__in=list(stale.values_list("pk", flat=True))).delete()
    return subscription


def push_unsubscribe(*, user, endpoint: str) -> bool:
    """Forget `user`'s subscription with this endpoint; return whether there was one.

    Someone else's endpoint is left alone (and the answer is the same).
    """
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return bool(deleted)


def push_forget_session(*, session_key: str | None) -> int:
    """Forget the subscriptions made in a login that ended; return how many."""
    digest = session_hash(session_key)
    if not digest:
        return 0
    deleted, _ = PushSubscription.objects.filter(session_hash=digest).delete()
    return deleted
