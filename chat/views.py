from math import ceil

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from realtime import ratelimit
from realtime.errors import Refused

from . import frames, selectors, services
from .exceptions import RoomForbidden, RoomNotFound
from .forms import RoomCreateForm, SearchForm, UsernameForm, first_error
from .search import search_messages


def _readable_room(slug: str, user):
    """Return the room, or 404 for rooms that don't exist or the user can't see
    (a private room's existence is not revealed)."""
    try:
        return selectors.room_for_reader(slug=slug, user=user)
    except (RoomNotFound, RoomForbidden):
        raise Http404("No such room.") from None


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
    room = _readable_room(slug, request.user)
    membership = selectors.membership(room=room, user=request.user)
    at = _seq_param(request.GET.get("at"))
    if at is not None and at <= room.last_seq:
        # A link to a message (?at=<seq>): the page holds the history around it.
        page = selectors.messages_around(room=room, seq=at)
    else:
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
            "search_query_max": settings.CHAT_SEARCH_QUERY_MAX_CHARS,
            "room_config": {
                "slug": room.slug,
                "user": frames.user_dict(request.user),
                "lastSeq": page.messages[-1].seq if page.messages else 0,
                "lastReadSeq": membership.last_read_seq if membership else room.last_seq,
                "hasMore": page.more,
            },
        },
    )


def _seq_param(value: str | None) -> int | None:
    """Return a positive seq from a query parameter, else None."""
    if value is None or not value.isdigit() or len(value) > 18:
        return None
    return int(value) or None


@require_GET
@login_required
def search(request):
    form = SearchForm(request.GET or None, user=request.user)
    results, retry_after = None, None
    if form.is_bound and form.is_valid():
        limit = async_to_sync(ratelimit.take)(
            "search", request.user.pk, settings.CHAT_SEARCH_RATE_LIMIT
        )
        if limit.allowed:
            data = form.cleaned_data
            results = search_messages(
                user=request.user,
                query=data["q"],
                room=data["room"],
                author=data["author"],
                after=data["after"],
                before=data["before"],
                cursor=data["cursor"],
            )
        else:
            retry_after = ceil(limit.retry_after)
            form.add_error(
                None,
                _("You are searching too fast; try again in %(seconds)d s.")
                % {"seconds": retry_after},
            )
    params = request.GET.copy()
    params.pop("cursor", None)
    room = form.cleaned_data.get("room") if form.is_bound else None
    response = render(
        request,
        "chat/search.html",
        {
            "form": form,
            "results": results,
            "room_name": selectors.room_display_name(room=room, user=request.user)
            if room
            else None,
            "first_query": params.urlencode() if "cursor" in request.GET else None,
            "next_query": (
                f"{params.urlencode()}&cursor={results.next_cursor}"
                if results is not None and results.next_cursor is not None
                else None
            ),
        },
        status=200 if retry_after is None else 429,
    )
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


@require_POST
@login_required
def room_join(request, slug):
    room = _readable_room(slug, request.user)
    try:
        services.room_join(room=room, user=request.user)
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
