from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from realtime.errors import Refused

from . import search, selectors
from .exceptions import RoomForbidden, RoomNotFound
from .models import Room
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


class SearchForm(forms.Form):
    """What /chat/search/ takes: the words, and filters that each name something
    the user may see (a room they can read, a user) or a valid day."""

    q = forms.CharField(
        label=_("Search messages"),
        strip=True,
        required=False,
        error_messages={"max_length": _("Search for at most %(limit_value)d characters.")},
        max_length=settings.CHAT_SEARCH_QUERY_MAX_CHARS,
    )
    room = forms.SlugField(label=_("In room"), required=False, max_length=80)
    author = forms.CharField(label=_("From"), required=False, max_length=150, strip=True)
    after = forms.DateField(
        label=_("After"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Give the day as YYYY-MM-DD.")},
    )
    before = forms.DateField(
        label=_("Before"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Give the day as YYYY-MM-DD.")},
    )
    cursor = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_q(self) -> str:
        query = self.cleaned_data["q"]
        if not query:
            raise ValidationError(_("Type a word to search for."), code="required")
        if not search.parse_query(query).searchable:
            raise ValidationError(
                _("Give at least one word to find (not only words to leave out)."),
                code="no_words",
            )
        return query

    def clean_cursor(self) -> search.Cursor | None:
        text = self.cleaned_data["cursor"]
        if not text:
            return None
        cursor = search.Cursor.parse(text)
        if cursor is None:
            raise ValidationError(_("That page of results does not exist; search again."))
        return cursor

    def clean_room(self) -> Room | None:
        slug = self.cleaned_data["room"]
        if not slug:
            return None
        try:
            return selectors.room_for_reader(slug=slug, user=self.user)
        except (RoomNotFound, RoomForbidden):
            # The same answer for a private room: its existence is not revealed.
            raise ValidationError(
                _("There is no room %(slug)s you can read."), params={"slug": slug}
            ) from None

    def clean_author(self):
        username = self.cleaned_data["author"]
        if not username:
            return None
        author = get_user_model().objects.filter(username__iexact=username.lstrip("@")).first()
        if author is None:
            raise ValidationError(_("There is no user %(name)s."), params={"name": username})
        return author

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        after, before = cleaned.get("after"), cleaned.get("before")
        if after and before and after >= before:
            raise ValidationError(_("The “after” day must come before the “before” day."))
        return cleaned
