"""End a user's sockets when their login ends or the user is deleted."""

from django.apps import apps
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.signals import user_logged_out
from django.core.exceptions import ValidationError
from django.db.models.signals import post_delete, pre_save

from . import auth, events


def on_logged_out(sender, request, user, **kwargs) -> None:
    if request is not None and request.session.session_key:
        auth.login_ended(session_key=request.session.session_key)
        events.session_ended(request.session.session_key, user.pk if user is not None else None)


def on_user_saved(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """Close every socket when the password changes or the account is deactivated."""
    if raw or instance.pk is None:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return
    old = sender.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if old and (
        old["password"] != instance.password or (old["is_active"] and not instance.is_active)
    ):
        auth.login_ended(user_id=instance.pk)
        events.user_sessions_ended(instance.pk)


def on_session_deleted(sender, instance, **kwargs) -> None:
    """Close a session's sockets however it ends on the server: deleted by an
    admin or `clearsessions`, or its key rotated at the next login."""
    auth.login_ended(session_key=instance.session_key)
    events.session_ended(instance.session_key, _logged_in_user_id(instance))


def _logged_in_user_id(session) -> int | None:
    """The id of the user a stored session logs in, or None (no login, or data
    that does not decode: no socket could have opened with it)."""
    user_id = session.get_decoded().get(SESSION_KEY)
    if user_id is None:
        return None
    try:
        return get_user_model()._meta.pk.to_python(user_id)
    except ValidationError:
        return None


def on_user_deleted(sender, instance, **kwargs) -> None:
    """Close every socket of a deleted user, however it was deleted."""
    auth.login_ended(user_id=instance.pk)
    events.user_sessions_ended(instance.pk)


def connect() -> None:
    user_logged_out.connect(on_logged_out, dispatch_uid="realtime.on_logged_out")
    if apps.is_installed("django.contrib.sessions"):
        from django.contrib.sessions.models import Session

        post_delete.connect(
            on_session_deleted, sender=Session, dispatch_uid="realtime.on_session_deleted"
        )
    pre_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="realtime.on_user_saved")
    post_delete.connect(
        on_user_deleted, sender=get_user_model(), dispatch_uid="realtime.on_user_deleted"
    )
