from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from realtime.errors import Refused

from .services import validate_room_name


class RoomCreateForm(forms.Form):
    # The rules (and their wording) are the service's: the form only carries them.
    name = forms.CharField(required=False, strip=True)
    private = forms.BooleanField(required=False, label=_("Private (members only)"))

    def clean_name(self) -> str:
        try:
            return validate_room_name(self.cleaned_data["name"])
        except Refused as error:
            raise ValidationError(error.detail, code=error.code) from None


class UsernameForm(forms.Form):
    username = forms.CharField(max_length=150, strip=True)


def first_error(form: forms.Form) -> str:
    """Return the first message of an invalid form, for a one-line notice."""
    return str(next(iter(form.errors.values()))[0])


# The slow modes the room page offers (seconds; 0 is off); the service takes any
# whole number up to CHAT_SLOW_MODE_MAX_SECONDS.
SLOW_MODE_CHOICES = [0, 5, 10, 30, 60, 120, 300, 900, 3600]


class SlowModeForm(forms.Form):
    seconds = forms.IntegerField(
        label=_("Slow mode"), min_value=0, max_value=settings.CHAT_SLOW_MODE_MAX_SECONDS
    )
