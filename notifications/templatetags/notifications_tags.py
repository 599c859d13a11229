from django import template

from .. import selectors

register = template.Library()


@register.simple_tag
def unread_notifications(user) -> int:
    """Return the user's unread count (one partial-index read), 0 when logged out."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return selectors.unread_count(user=user)
