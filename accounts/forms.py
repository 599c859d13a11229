from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import UserCreationForm, UsernameField
from django.contrib.auth.models import User
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from realtime.tasks import enqueue_on_commit

from . import tasks
from .models import Profile
from .validators import validate_signup_username

EMAIL_HELP = _(
    "Optional. For resetting your password, and the notifications you choose to get by email."
)


def email_field() -> forms.EmailField:
    return forms.EmailField(
        label=_("Email address"),
        required=False,
        max_length=254,
        help_text=EMAIL_HELP,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class SignupForm(UserCreationForm):
    """Django's signup form (NFKC names, no two names differing only in case) that
    also refuses reserved names and look-alikes of existing users."""

    email = email_field()

    class Meta:
        # UserCreationForm.Meta, plus the optional address.
        model = User
        fields = ("username", "email")
        field_classes = {"username": UsernameField}

    def clean_username(self):
        username = super().clean_username()
        if username:  # None when Django already found the same name in another case
            validate_signup_username(username)
        return username


class SettingsForm(forms.ModelForm):
    """The settings page: one field per setting (more come with their features)."""

    # On the user, not the profile: profile_update stores it there.
    email = email_field()

    class Meta:
        model = Profile
        fields = ["share_read_position"]


class PasswordResetForm(auth_forms.PasswordResetForm):
    """Django's form (the same answer whether or not the address has an account),
    but the email goes from a background task after the request, never inside it;
    the task makes the link when it runs, so no reset token is ever stored."""

    def save(self, **kwargs) -> None:  # type: ignore[override]
        for user in self.get_users(self.cleaned_data["email"]):
            enqueue_on_commit(
                tasks.password_reset_email, user.pk, language=translation.get_language() or ""
            )


class BlockForm(forms.Form):
    """Block or unblock a user, named by username."""

    username = forms.CharField(label=_("Username"), max_length=150, strip=True)
