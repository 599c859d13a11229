from django import forms

from .services import ROOM_NAME_MAX


class RoomCreateForm(forms.Form):
    name = forms.CharField(max_length=ROOM_NAME_MAX, strip=True)
    private = forms.BooleanField(required=False, label="Private (members only)")


class UsernameForm(forms.Form):
    username = forms.CharField(max_length=150, strip=True)
