from collections.abc import AsyncIterator
from dataclasses import dataclass
from math import ceil
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.template.backends.utils import csrf_input
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from realtime import ratelimit
from realtime.db import db_call
from realtime.errors import NotFound, Refused

from . import attachments, frames, moderation_selectors, selectors, services
from .exceptions import RoomBanned, RoomForbidden, RoomNotFound
from .forms import SLOW_MODE_CHOICES, RoomCreateForm, SearchForm, UsernameForm, first_error
from .search import search_messages


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
        raise Http404(_("No such room.")) from None


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
        request,
        _("You are creating rooms too fast; try again in %(seconds)s s.")
        % {"seconds": ceil(limit.retry_after)},
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
            raise Refused(_("Give the username of the person to message."))
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
    at = _seq_param(request.GET.get("at"))
    if at is not None and at <= room.last_seq:
        # A link to a message (?at=<seq>): the page holds the history around it.
        page = selectors.messages_around(room=room, seq=at)
    else:
        page = selectors.messages_before(room=room, before_seq=None, limit=selectors.HELLO_LATEST)
    display_name = selectors.room_display_name(room=room, user=request.user)
    is_owner = membership is not None and membership.is_owner
    moderation = _moderation_context(room, request.user, is_owner)
    return render(
        request,
        "chat/room_detail.html",
        {
            "room": room,
            "display_name": display_name,
            "membership": membership,
            "is_owner": is_owner,
            "members": _member_rows(room, request.user, moderation["can_moderate"]),
            "csrf_input": csrf_input(request),
            "history": page.messages,
            "has_more": page.more,
            "member_form": UsernameForm(),
            **moderation,
            # Every message's actions, translated once for the page, not once per
            # message: they were most of its rendering (bench/README.md, "Pages").
            "message_actions": render_to_string(
                "chat/_message_actions.html", {"can_moderate": moderation["can_moderate"]}
            ),
            "search_query_max": settings.CHAT_SEARCH_QUERY_MAX_CHARS,
            "room_config": {
                "slug": room.slug,
                "user": frames.user_dict(request.user),
                "lastSeq": page.messages[-1].seq if page.messages else 0,
                "lastReadSeq": membership.last_read_seq if membership else room.last_seq,
                "hasMore": page.more,
                "uploadUrl": reverse("chat:attachment_upload", kwargs={"slug": room.slug}),
            },
        },
    )


@dataclass(frozen=True)
class MemberRow:
    """A row of the room page's members panel: the member, and the labels of
    the buttons the viewer has there (none: no button). A large room lists many
    members, so the labels come here from one translation for the page, not
    from a translation tag each in every row: with 1,000 members, those tags,
    the rows' URLs and CSRF fields were most of the page's CPU
    (bench/README.md, "Pages")."""

    member: selectors.ListedMember
    message_label: str | None
    ban_label: str | None


def _member_rows(room, viewer, can_moderate: bool) -> list[MemberRow]:
    message_label = _("Message %(name)s")
    ban_label = _("Ban %(name)s from this room")
    rows = []
    for member in selectors.room_members(room=room):
        others = member.user_id != viewer.pk
        named = {"name": member.username}
        rows.append(
            MemberRow(
                member=member,
                message_label=message_label % named if others else None,
                # Moderators ban others, never the room's owner.
                ban_label=ban_label % named
                if can_moderate and others and not member.is_owner
                else None,
            )
        )
    return rows


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
    try:
        room = _readable_room(slug, request.user)
        services.room_join(room=room, user=request.user)
    except Banned as error:
        return _banned(request, error)
    except RoomBanned as error:
        return _banned(request, Banned(error.detail))
    except RoomForbidden:
        raise Http404(_("No such room.")) from None
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
    messages.info(request, _("You left %(room)s.") % {"room": room.name})
    return redirect("chat:room_list")


def _change_members(request, slug, change, done: str) -> object:
    room = _readable_room(slug, request.user)
    form = UsernameForm(request.POST)
    try:
        if not form.is_valid():
            raise Refused(_("Give a username."))
        change(room=room, actor=request.user, username=form.cleaned_data["username"])
    except RoomForbidden:
        messages.error(request, _("Only the owner of a private room manages its members."))
    except Refused as error:
        messages.error(request, error.detail)
    else:
        messages.success(
            request, done % {"username": form.cleaned_data["username"], "room": room.name}
        )
    return redirect(room)


@require_POST
@login_required
def member_add(request, slug):
    # Adding someone who is already a member changes nothing and says so the same way.
    return _change_members(
        request, slug, services.member_add, _("%(username)s is a member of %(room)s.")
    )


@require_POST
@login_required
def member_remove(request, slug):
    return _change_members(
        request,
        slug,
        services.member_remove,
        _("%(username)s is no longer a member of %(room)s."),
    )


# ---- Attachments ----------------------------------------------------------------
#
# Async views: decoding an image takes a good part of a second, and a download
# streams for as long as the client reads. As sync views they would hold the one
# thread every sync view of the worker shares; here the work runs in the database
# threads (realtime.db) and the file is read chunk by chunk off the event loop.

FILE_CHUNK_BYTES = 64 * 1024


def _json_error(error: Refused, status: int) -> JsonResponse:
    response = JsonResponse(error.frame(), status=status)
    if "retry_after" in error.extra:
        response["Retry-After"] = str(ceil(error.extra["retry_after"]))
    return response


# The status each refusal code answers with.
_UPLOAD_STATUS = {"invalid": 400, "too_large": 413, "not_found": 404, "rate_limited": 429}


def _content_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0  # the body parser answers a malformed one


@db_call
def _store_upload(slug: str, user, upload) -> dict:
    try:
        room = selectors.room_for_reader(slug=slug, user=user)
    except (RoomNotFound, RoomForbidden):
        # A private room's existence is not revealed.
        raise NotFound(_("No such room.")) from None
    if attachments.pending_count(uploader=user) >= settings.CHAT_MAX_PENDING_UPLOADS:
        raise Refused(_("Too many files waiting to be sent: send or remove some first."))
    attachment = attachments.attachment_create(room=room, uploader=user, upload=upload)
    return attachments.attachment_dict(attachment)


@require_POST
async def attachment_upload(request, slug):
    """Store one file (form field `file`) as the user's pending attachment in the
    room: `201 {"attachment": {...}}`, or an error object with a code and a reason.

    CSRF-protected like every POST (the page's token in `X-CSRFToken`)."""
    user = await request.auser()
    if not user.is_authenticated:
        return JsonResponse(
            {"type": "error", "code": "forbidden", "detail": _("Log in to upload files.")},
            status=403,
        )
    try:
        if _content_length(request) > settings.CHAT_MAX_UPLOAD_BYTES + 64 * 1024:
            # Refused before the body is parsed.
            raise Refused(
                _("A file is at most %(size)s.") % {"size": attachments.max_bytes_text()},
                code="too_large",
            )
        uploads = request.FILES.getlist("file")
        if len(uploads) != 1:
            raise Refused(_('Send one file, in the form field "file".'))
        taken = await ratelimit.take("upload", user.pk, settings.CHAT_UPLOAD_RATE_LIMIT)
        if not taken.allowed:
            raise Refused(
                _("Too many uploads; try again in %(seconds)s s.")
                % {"seconds": ceil(taken.retry_after)},
                code="rate_limited",
                retry_after=taken.retry_after,
            )
        attachment = await _store_upload(slug, user, uploads[0])
    except Refused as error:
        return _json_error(error, _UPLOAD_STATUS.get(error.code, 400))
    return JsonResponse({"attachment": attachment}, status=201)


@dataclass(frozen=True)
class OpenedFile:
    handle: Any
    size: int
    name: str
    content_type: str
    inline: bool


@db_call
def _open_readable(attachment_id: int, user, thumb: bool) -> OpenedFile:
    """Check that `user` may read the attachment now, and open its file (or thumbnail)."""
    attachment = selectors.attachment_for_reader(attachment_id=attachment_id, user=user)
    stored = attachment.thumb if thumb else attachment.file
    if not stored:
        raise NotFound(_("No such file."))
    try:
        handle = default_storage.open(stored.name, "rb")
        size = handle.size
    except FileNotFoundError:
        raise NotFound(_("No such file.")) from None
    inline = attachments.is_inline(attachment)
    if thumb:
        content_type = attachments.THUMB_TYPE
    else:
        content_type = attachment.content_type if inline else attachments.UNKNOWN_TYPE
    return OpenedFile(handle, size, attachment.name, content_type, inline)


async def _chunks(handle: Any) -> AsyncIterator[bytes]:
    read = sync_to_async(handle.read, thread_sensitive=False)
    try:
        while chunk := await read(FILE_CHUNK_BYTES):
            yield chunk
    finally:
        await sync_to_async(handle.close, thread_sensitive=False)()


async def _serve(request, attachment_id: int, *, thumb: bool):
    user = await request.auser()
    if not user.is_authenticated:
        raise Http404(_("No such file."))
    try:
        opened = await _open_readable(attachment_id, user, thumb)
    except NotFound:
        raise Http404(_("No such file.")) from None
    response = StreamingHttpResponse(_chunks(opened.handle), content_type=opened.content_type)
    response["Content-Length"] = str(opened.size)
    # RFC 6266: filename="..." for plain ASCII, else filename*=utf-8''...
    disposition = content_disposition_header(as_attachment=not opened.inline, filename=opened.name)
    response["Content-Disposition"] = disposition or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    # Opened on its own, a file is a document of this site's origin: it may run
    # nothing and load nothing.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    # Access can end: caches must ask again.
    response["Cache-Control"] = "private, no-cache"
    return response


@require_GET
async def attachment_download(request, attachment_id):
    return await _serve(request, attachment_id, thumb=False)


@require_GET
async def attachment_thumb(request, attachment_id):
    return await _serve(request, attachment_id, thumb=True)


def _moderation_context(room, user, is_owner: bool) -> dict:
    """What the room page shows a moderator (chat.moderation), and the texts
    the browser's moderation module shows (translated here)."""
    can_moderate = moderation_selectors.may_moderate(room=room, user=user, owner=is_owner)
    return {
        "can_moderate": can_moderate,
        "bans": moderation_selectors.room_bans(room=room) if can_moderate else [],
        "slow_mode_choices": SLOW_MODE_CHOICES,
        "report_reason_max": settings.CHAT_REPORT_REASON_MAX_CHARS,
        "moderation_text": {
            "pin": _("Pin"),
            "unpin": _("Unpin"),
            "pinned": _("Pinned"),
            "deleted": _("message deleted"),
            "reportPrompt": _("Why do you report this message?"),
            "reported": _("Thank you: the moderators will look at your report."),
            "notConnected": _("Not connected: try again once connected."),
            "slowMode": _("Slow mode: you can send again in %(seconds)s s."),
            "slowModeOn": _("Slow mode is on: %(seconds)s s between messages."),
        },
    }
