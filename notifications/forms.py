from django import forms
from django.core.exceptions import ValidationError

from .models import Broadcast


class BroadcastForm(forms.ModelForm):
    class Meta:
        model = Broadcast
        fields = ["title", "body", "level", "url", "audience", "groups", "users", "critical"]

    def clean(self):
        super().clean()
        cleaned = self.cleaned_data
        audience = cleaned.get("audience")
        if audience == Broadcast.Audience.GROUPS and not cleaned.get("groups"):
            raise ValidationError({"groups": "Choose at least one group for this audience."})
        if audience == Broadcast.Audience.USERS and not cleaned.get("users"):
            raise ValidationError({"users": "Choose at least one user for this audience."})
        if audience == Broadcast.Audience.ALL and (cleaned.get("groups") or cleaned.get("users")):
            raise ValidationError(
                {
                    "audience": "“All active users” takes no groups or users; clear them or "
                    "choose another audience."
                }
            )
        return cleaned
