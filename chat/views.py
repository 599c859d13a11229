from math import ceil

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from realtime import ratelimit
from realtime.errors import Refused

from . import frames, moderation_selectors, selectors, services
from .exceptions import RoomBanned, RoomForbidden, RoomNotFound
from .forms import SLOW_MODE_CHOICES, RoomCreateForm, UsernameForm, first_error


class Banned(Exception):
    """The user is banned from the room (the views answer 403 with the reason)."""


def _readable_room(slug: str, user):
    """Return the room, or 404 for rooms that don't exist or the user can't see
    (a private room's existence is not revealed); raise Banned for a banned user."""
    try:
        return selectors.room_for_reader(slug=slug, user=user)
    except RoomBanned as error:
        raise Banned(error.detail) from None
    except (RoomNotFound, RoomForbidden):
        raise Http404("No such room.") from None


def _banned(request, error: Banned):
    """The room list, saying why the room stays shut (403)."""
    messages.error(request, str(error))
    return _room_list(request, status=403)


def _room_list(request, status: int = 200):
    return render(
        request,
        "chat/room_list.html",
        {
            "rooms": selectors.rooms_for_user(user=request.user),
            "public_rooms": selectors.public_rooms_to_join(user=request.user),
            "create_form": RoomCreateForm(),
            "direct_form": UsernameForm(),
        },
        status=status,
    )


@require_GET
@login_required
def room_list(request):
    return _room_list(request)


def _over_room_limit(request):
    """Count a room creation; over CHAT_ROOM_CREATE_RATE_LIMIT, return the 429 page."""
    limit = async_to_sync(ratelimit.take)(
        "room_create", request.user.pk, settings.CHAT_ROOM_CREATE_RATE_LIMIT
    )
    if limit.allowed:
        return None
    messages.error(
        request, f"You are creating rooms too fast; try again in {ceil(limit.retry_after)} s."
    )
    response = _room_list(request, status=429)
    response["Retry-After"] = str(ceil(limit.retry_after))
    return response


@require_POST
@login_required
def room_create(request):
    form = RoomCreateForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return redirect("chat:room_list")
    refused = _over_room_limit(request)
    if refused is not None:
        return refused
    try:
        room = services.room_create(
            name=form.cleaned_data["name"],
            private=form.cleaned_data["private"],
            created_by=request.user,
        )
    except Refused as error:
        messages.error(request, error.detail)
        return redirect("chat:room_list")
    return redirect(room)


@require_POST
@login_required
def direct_open(request):
    form = UsernameForm(request.POST)
    try:
        if not form.is_valid():
            raise Refused("Give the username of the person to message.")
        # Opening a conversation may create a room: the same limit.
        refused = _over_room_limit(request)
        if refused is not None:
            return refused
        room = services.direct_room_open(user=request.user, username=form.cleaned_data["username"])
    except Refused as error:
        messages.error(request, error.detail)
        return redirect("chat:room_list")
    return redirect(room)


@require_GET
@login_required
def room_detail(request, slug):
    try:
        room = _readable_room(slug, request.user)
    except Banned as error:
        return _banned(request, error)
    membership = selectors.membership(room=room, user=request.user)
    page = selectors.messages_before(room=room, before_seq=None, limit=selectors.HELLO_LATEST)
    display_name = selectors.room_display_name(room=room, user=request.user)
    return render(
        request,
        "chat/room_detail.html",
        {
            "room": room,
            "display_name": display_name,
            "membership": membership,
            "is_owner": membership is not None and membership.role == membership.Role.OWNER,
            "members": selectors.room_members(room=room),
            "history": page.messages,
            "has_more": page.more,
            "member_form": UsernameForm(),
            **_moderation_context(room, request.user),
            "room_config": {
                "slug": room.slug,
                "user": frames.user_dict(request.user),
                "lastSeq": page.messages[-1].seq if page.messages else 0,
                "lastReadSeq": membership.last_read_seq if membership else room.last_seq,
                "hasMore": page.more,
            },
        },
    )


@require_POST
@login_required
def room_join(request, slug):
    try:
        room = _readable_room(slug, request.user)
        services.room_join(room=room, user=request.user)
    except Banned as error:
        return _banned(request, error)
    except RoomBanned as error:
        return _banned(request, Banned(error.detail))
    except RoomForbidden:
        raise Http404("No such room.") from None
    return redirect(room)


@require_POST
@login_required
def room_leave(request, slug):
    room = _readable_room(slug, request.user)
    try:
        services.room_leave(room=room, user=request.user)
    except Refused as error:
        messages.error(request, error.detail)
        return redirect(room)
    messages.info(request, f"You left {room.name}.")
    return redirect("chat:room_list")


def _change_members(request, slug, change, done: str) -> object:
    room = _readable_room(slug, request.user)
    form = UsernameForm(request.POST)
    try:
        if not form.is_valid():
            raise Refused("Give a username.")
        change(room=room, actor=request.user, username=form.cleaned_data["username"])
    except RoomForbidden:
        messages.error(request, "Only the owner of a private room manages its members.")
    except Refused as error:
        messages.error(request, error.detail)
    else:
        messages.success(
            request, done.format(username=form.cleaned_data["username"], room=room.name)
        )
    return redirect(room)


@require_POST
@login_required
def member_add(request, slug):
    # Adding someone who is already a member changes nothing and says so the same way.
    return _change_members(request, slug, services.member_add, "{username} is a member of {room}.")


@require_POST
@login_required
def member_remove(request, slug):
    return _change_members(
        request, slug, services.member_remove, "{username} is no longer a member of {room}."
    )


def _moderation_context(room, user) -> dict:
    """What the room page shows a moderator (chat.moderation), and the texts
    the browser's moderation module shows (translated here)."""
    can_moderate = moderation_selectors.may_moderate(room=room, user=user)
    return {
        "can_moderate": can_moderate,
        "bans": moderation_selectors.room_bans(room=room) if can_moderate else [],
        "slow_mode_choices": SLOW_MODE_CHOICES,
        "report_reason_max": settings.CHAT_REPORT_REASON_MAX_CHARS,
        "moderation_text": {
            "pin": gettext("Pin"),
            "unpin": gettext("Unpin"),
            "pinned": gettext("Pinned"),
            "deleted": gettext("message deleted"),
            "reportPrompt": gettext("Why do you report this message?"),
            "reported": gettext("Thank you: the moderators will look at your report."),
            "notConnected": gettext("Not connected: try again once connected."),
            "slowMode": gettext("Slow mode: you can send again in %(seconds)s s."),
            "slowModeOn": gettext("Slow mode is on: %(seconds)s s between messages."),
        },
    }
