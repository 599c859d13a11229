from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import i18n as i18n_views
from django.views.decorators.http import require_http_methods, require_POST

from realtime.errors import Refused

from . import selectors, services
from .forms import BlockForm, PasswordResetForm, SettingsForm, SignupForm
from .throttle import (
    Refusal,
    client_address,
    login_attempt,
    password_reset_refusal,
    signup_refusal,
)


def guard_login(view):
    """Throttle failed logins through `view` (accounts.throttle has the rule).

    Every login form goes through this: the site's login and the admin's.
    """

    @wraps(view)
    def guarded(request, *args, **kwargs):
        if request.method != "POST":
            return view(request, *args, **kwargs)
        attempt = login_attempt(
            address=client_address(request), username=str(request.POST.get("username", ""))
        )
        if attempt.refusal is not None:
            return too_many(request, attempt.refusal)
        before = request.user
        response = view(request, *args, **kwargs)
        if request.user is not before and request.user.is_authenticated:
            attempt.succeeded()  # login() replaced request.user
        elif response.status_code == 200:
            # The form again: a wrong password, a missing field, a non-staff user
            # at the admin.
            attempt.failed()
        else:
            attempt.abandoned()  # e.g. already logged in: redirected, nothing checked
        return response

    return guarded


def too_many(request, refusal: Refusal):
    """Answer a throttled form with 429, the reason and when to try again."""
    response = render(
        request,
        "registration/throttled.html",
        {"message": refusal.message, "back": request.get_full_path()},
        status=429,
    )
    response["Retry-After"] = str(refusal.retry_after)
    return response


login_view = guard_login(auth_views.LoginView.as_view(redirect_authenticated_user=True))


@require_http_methods(["GET", "POST"])
def signup(request):
    """Create an account and log in with it."""
    if request.user.is_authenticated:
        return redirect("chat:room_list")
    form = SignupForm(request.POST or None)
    if request.method == "POST":
        refusal = signup_refusal(address=client_address(request))
        if refusal is not None:
            return too_many(request, refusal)
        if form.is_valid():
            try:
                user = services.account_create(
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                    email=form.cleaned_data["email"],
                )
            except ValidationError as error:
                form.add_error("username", error)
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect("chat:room_list")
    return render(request, "registration/signup.html", {"form": form})


class LogoutView(auth_views.LogoutView):
    """Log out, then say so on the login page it lands on."""

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You have been logged out."))
        return response


@require_http_methods(["GET", "POST"])
@login_required
def settings_view(request):
    """The user's own settings."""
    # Not `request.POST or None`: a form of unticked boxes posts nothing, and is bound.
    data = request.POST if request.method == "POST" else None
    form = SettingsForm(
        data, instance=selectors.profile(user=request.user), initial={"email": request.user.email}
    )
    if request.method == "POST" and form.is_valid():
        services.profile_update(user=request.user, **form.cleaned_data)
        messages.success(request, _("Settings saved."))
        return redirect("settings")
    return render(
        request,
        "accounts/settings.html",
        {
            "form": form,
            "block_form": BlockForm(),
            "blocks": selectors.blocked_users(user=request.user),
        },
    )


def _change_block(request, change, done: str):
    form = BlockForm(request.POST)
    try:
        if not form.is_valid():
            raise Refused(_("Give a username."))
        change(user=request.user, username=form.cleaned_data["username"])
    except Refused as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, done % {"name": form.cleaned_data["username"].lstrip("@")})
    return redirect("settings")


@require_POST
@login_required
def block(request):
    """Block a user (from the settings page)."""
    return _change_block(request, services.user_block, _("You blocked %(name)s."))


@require_POST
@login_required
def unblock(request):
    return _change_block(request, services.user_unblock, _("You unblocked %(name)s."))


_password_reset = auth_views.PasswordResetView.as_view(form_class=PasswordResetForm)


def password_reset(request, *args, **kwargs):
    """Django's password reset form, throttled per address and per email address
    like signups (accounts.throttle), so no one floods an inbox with reset links."""
    if request.method == "POST":
        refusal = password_reset_refusal(
            address=client_address(request), email=str(request.POST.get("email", ""))
        )
        if refusal is not None:
            return too_many(request, refusal)
    return _password_reset(request, *args, **kwargs)


@require_POST
def language_set(request):
    """The header's language switcher: Django's set_language (the cookie, then
    back to `next`), and for a logged-in user, the choice stored on the profile."""
    response = i18n_views.set_language(request)
    language = str(request.POST.get("language", ""))
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        services.profile_language_set(user=request.user, language=language)
    return response
