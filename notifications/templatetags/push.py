from django import template
from django.urls import reverse

from .. import webpush
from ..models import PushSubscription

register = template.Library()


@register.simple_tag
def webpush_config(user) -> dict:
    """Return what the push widget's script needs (rendered with json_script)."""
    if not webpush.enabled() or not getattr(user, "is_authenticated", False):
        return {"enabled": False}
    return {
        "enabled": True,
        "publicKey": webpush.public_key_of(webpush.vapid()),
        "subscribeUrl": reverse("notifications:push_subscribe"),
        "unsubscribeUrl": reverse("notifications:push_unsubscribe"),
        # The user's own browsers: the widget says "on" only for one of these.
        "endpoints": list(
            PushSubscription.objects.filter(user=user).values_list("endpoint", flat=True)
        ),
    }
