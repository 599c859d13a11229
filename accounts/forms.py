from django import forms
from django.contrib.auth.forms import UserCreationForm

from .models import Profile
from .validators import validate_signup_username


class SignupForm(UserCreationForm):
    """Django's signup form (NFKC names, no two names differing only in case) that
    also refuses reserved names and look-alikes of existing users."""

    def clean_username(self):
        username = super().clean_username()
        if username:  # None when Django already found the same name in another case
            validate_signup_username(username)
        return username


class SettingsForm(forms.ModelForm):
    """The settings page: one field per setting (more come with their features)."""

    class Meta:
        model = Profile
        fields = ["share_read_position"]
