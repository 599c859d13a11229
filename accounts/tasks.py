"""Background tasks of accounts (django-tasks): the password reset email."""

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django_tasks import task

from realtime.tasks import retry

from . import selectors


@task()
def password_reset_email(user_id: int, attempt: int = 1, language: str = "") -> bool:
    """Email the user a link to set a new password (Django's token, made now);
    return False when the account can no longer reset one. In the user's stored
    language, else `language` (the one the reset was asked in)."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None or not user.email or not user.has_usable_password():
        return False
    language = selectors.language(user=user) or language or settings.LANGUAGE_CODE
    with translation.override(language):
        return _send_password_reset(user, attempt=attempt, language=language)


def _send_password_reset(user, *, attempt: int, language: str) -> bool:
    user_id = user.pk
    site = urlsplit(settings.SITE_URL)
    context = {
        "email": user.email,
        "domain": site.netloc,
        "protocol": site.scheme,
        "site_name": "Relay",
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "user": user,
        "token": default_token_generator.make_token(user),
    }
    subject = "".join(
        render_to_string("registration/password_reset_subject.txt", context).splitlines()
    )
    email = EmailMultiAlternatives(
        subject,
        render_to_string("registration/password_reset_email.txt", context),
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
        headers={"Auto-Submitted": "auto-generated"},
    )
    email.attach_alternative(
        render_to_string("registration/password_reset_email.html", context), "text/html"
    )
    try:
        email.send()
    except Exception:
        retry(password_reset_email, user_id, attempt=attempt, language=language)
        raise
    return True
