"""Web Push's receivers: a stored batch of notifications becomes a push task,
and a login that ends takes its browser's subscriptions with it."""

import logging

from django.contrib.auth.signals import user_logged_out

from . import push_services, webpush
from .signals import notifications_stored

logger = logging.getLogger(__name__)

# Notifications per task: a broadcast to everyone becomes several tasks, each
# small enough for a worker to finish in reasonable time.
TASK_BATCH = 500


def on_notifications_stored(sender, notifications, kinds: frozenset[str], **kwargs) -> None:
    """Enqueue the push of the notifications a push may be sent for (after commit:
    the signal is sent then)."""
    if not webpush.enabled() or not kinds & webpush.PUSH_KINDS:
        return
    ids = [n.pk for n in notifications if n.kind in webpush.PUSH_KINDS]
    for start in range(0, len(ids), TASK_BATCH):
        webpush.push_task.enqueue(ids[start : start + TASK_BATCH])


def on_logged_out(sender, request, user, **kwargs) -> None:
    session = getattr(request, "session", None)
    forgotten = push_services.push_forget_session(
        session_key=session.session_key if session is not None else None
    )
    if forgotten:
        logger.info(
            "logout ended %s push subscriptions of user %s", forgotten, getattr(user, "pk", None)
        )


def connect() -> None:
    notifications_stored.connect(
        on_notifications_stored, dispatch_uid="notifications.push.on_notifications_stored"
    )
    user_logged_out.connect(on_logged_out, dispatch_uid="notifications.push.on_logged_out")
