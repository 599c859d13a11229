"""The room page's moderation forms: ban, unban, slow mode (chat.moderation)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from realtime.errors import Refused

from . import moderation
from .exceptions import RoomForbidden, RoomNotFound
from .forms import SlowModeForm, UsernameForm
from .models import Room


def _room(slug: str) -> Room:
    try:
        return Room.objects.get(slug=slug)
    except Room.DoesNotExist:
        raise Http404(gettext("No such room.")) from None


def _ban_change(request, slug: str, change, done: str):
    room = _room(slug)
    form = UsernameForm(request.POST)
    try:
        if not form.is_valid():
            raise Refused(gettext("Give a username."))
        change(room=room, actor=request.user, username=form.cleaned_data["username"])
    except (RoomNotFound, RoomForbidden):
        # A private room's existence is not revealed to those who can't read it.
        raise Http404(gettext("No such room.")) from None
    except Refused as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, done % {"name": form.cleaned_data["username"].lstrip("@")})
    return redirect(room)


@require_POST
@login_required
def member_ban(request, slug):
    return _ban_change(
        request, slug, moderation.member_ban, gettext("%(name)s is banned from this room.")
    )


@require_POST
@login_required
def member_unban(request, slug):
    return _ban_change(
        request, slug, moderation.member_unban, gettext("%(name)s is no longer banned.")
    )


@require_POST
@login_required
def slow_mode(request, slug):
    room = _room(slug)
    form = SlowModeForm(request.POST)
    try:
        if not form.is_valid():
            raise Refused(gettext("Choose how long members wait between messages."))
        seconds = form.cleaned_data["seconds"]
        moderation.slow_mode_set(room=room, actor=request.user, seconds=seconds)
    except (RoomNotFound, RoomForbidden):
        # A private room's existence is not revealed to those who can't read it.
        raise Http404(gettext("No such room.")) from None
    except Refused as error:
        messages.error(request, error.detail)
    else:
        if seconds:
            messages.success(
                request,
                gettext("Slow mode is on: %(seconds)d s between messages.") % {"seconds": seconds},
            )
        else:
            messages.success(request, gettext("Slow mode is off."))
    return redirect(room)
