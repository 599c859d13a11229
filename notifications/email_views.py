from django.contrib.auth import get_user_model
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts import selectors as accounts_selectors

from . import emails
from .models import Kind


# Exempt from CSRF on purpose: RFC 8058's one-click unsubscribe is a POST that the
# mail provider sends for the user, with no cookie and no CSRF token. What guards
# it is the token in the URL (signed, naming the user and the kinds), and all it
# can do is switch some emails off, which the user can switch on again.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def email_unsubscribe(request, token: str):
    """GET: ask to confirm (mail scanners follow links; only a POST unsubscribes).
    POST (the button, or the mail client's one-click): unsubscribe."""
    wanted = emails.unsubscribe_read(token)
    user = (
        get_user_model().objects.filter(pk=wanted.user_id, is_active=True).first()
        if wanted is not None
        else None
    )
    if wanted is None or user is None:
        return render(request, "notifications/email/unsubscribe_invalid.html", status=400)
    # The language of the email the link came from: its user's.
    translation.activate(accounts_selectors.languages(user_ids=[user.pk])[user.pk])
    labels = dict(Kind.choices)
    context = {
        "kinds": [labels[kind].lower() for kind in wanted.kinds],
        "settings_url": reverse("notification_settings"),
    }
    if request.method == "POST":
        emails.email_unsubscribe(user=user, kinds=wanted.kinds)
        return render(request, "notifications/email/unsubscribed.html", context)
    return render(request, "notifications/email/unsubscribe.html", context)
