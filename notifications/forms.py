import zoneinfo
from datetime import datetime

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from chat.models import Membership

from . import policy
from .models import Broadcast, Kind, NotificationSettings


class BroadcastForm(forms.ModelForm):
    class Meta:
        model = Broadcast
        fields = ["title", "body", "level", "url", "audience", "groups", "users", "critical"]

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        audience = cleaned.get("audience")
        if audience == Broadcast.Audience.GROUPS and not cleaned.get("groups"):
            raise ValidationError({"groups": _("Choose at least one group for this audience.")})
        if audience == Broadcast.Audience.USERS and not cleaned.get("users"):
            raise ValidationError({"users": _("Choose at least one user for this audience.")})
        if audience == Broadcast.Audience.ALL and (cleaned.get("groups") or cleaned.get("users")):
            raise ValidationError(
                {
                    "audience": _(
                        "“All active users” takes no groups or users; clear them or "
                        "choose another audience."
                    )
                }
            )
        return cleaned


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class PreferencesForm(forms.ModelForm):
    """The user's own delivery preferences (the /settings/notifications/ page)."""

    email_kinds = forms.MultipleChoiceField(
        label=_("Email me about"),
        choices=[(kind.value, kind.label) for kind in Kind if kind in policy.EMAIL_KINDS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    push_kinds = forms.MultipleChoiceField(
        label=_("Push to my devices"),
        choices=[(kind.value, kind.label) for kind in Kind if kind != Kind.SYSTEM],
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("Critical announcements always come through, even in quiet hours."),
    )
    digest_hour = forms.TypedChoiceField(
        label=_("Daily digest at"),
        choices=[(hour, f"{hour:02d}:00") for hour in range(24)],
        coerce=int,
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=time_zone_choices)
    quiet_start = forms.TimeField(
        label=_("Quiet from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_end = forms.TimeField(
        label=_("until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_(
            "No pushes in between, and emails wait until it ends; 22:00 to 07:00 spans midnight."
        ),
    )

    class Meta:
        model = NotificationSettings
        fields = [
            "email_kinds",
            "email_timing",
            "digest_hour",
            "push_kinds",
            "time_zone",
            "quiet_start",
            "quiet_end",
        ]
        widgets = {"email_timing": forms.RadioSelect}
        labels = {"email_timing": _("Send emails")}

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        start, end = cleaned.get("quiet_start"), cleaned.get("quiet_end")
        if "quiet_start" in cleaned and "quiet_end" in cleaned:
            if (start is None) != (end is None):
                raise ValidationError(
                    {"quiet_end": _("Give both times for quiet hours, or neither to have none.")}
                )
            if start is not None and start == end:
                raise ValidationError(
                    {"quiet_end": _("Quiet hours must end at another time than they start.")}
                )
        return cleaned


class RoomPreferenceForm(forms.Form):
    """One of the user's rooms: its level and mute (times in the user's zone)."""

    level = forms.ChoiceField(label=_("Notify me about"), choices=Membership.NotifyLevel.choices)
    muted_until = forms.DateTimeField(
        label=_("Mute until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )

    def __init__(self, data=None, *, membership: Membership, now: datetime) -> None:
        self.membership = membership
        self.now = now
        muted = membership.muted_until
        # An ended mute shows as none.
        self.shown_mute = muted if muted is not None and muted > now else None
        super().__init__(
            data,
            prefix=f"room-{membership.room_id}",
            initial={"level": membership.notify_level, "muted_until": self.shown_mute},
        )

    def clean_muted_until(self):
        value = self.cleaned_data["muted_until"]
        # The mute shown, sent back unchanged, may have ended meanwhile: not an error.
        if value is not None and value <= self.now and value != self.shown_mute:
            raise ValidationError(_("Choose a time in the future, or leave it empty to unmute."))
        return value
