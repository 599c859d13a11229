import unicodedata

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from .models import UsernameKey
from .usernames import is_reserved, username_key

RESERVED = _("This name is reserved. Choose another.")
LOOKS_TAKEN = _("This name looks too much like an existing user's. Choose another.")


def validate_signup_username(username: str) -> None:
    """Refuse a name signup must not give out: reserved, or a look-alike of a user's.

    Only signup applies this: staff may still create `admin` or `root`.
    """
    if is_reserved(username):
        raise ValidationError(RESERVED, code="reserved")
    holder = (
        UsernameKey.objects.filter(key=username_key(username))
        .values_list("user__username", flat=True)
        .first()
    )
    if holder is None:
        return
    if _folded(holder) == _folded(username):
        User = get_user_model()
        field = User._meta.get_field(User.USERNAME_FIELD)
        assert isinstance(field, models.Field)  # a column, not a relation
        raise ValidationError(field.error_messages["unique"], code="unique")
    raise ValidationError(LOOKS_TAKEN, code="look_alike")


def _folded(username: str) -> str:
    return unicodedata.normalize("NFKC", username).casefold()
