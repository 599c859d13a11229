import contextlib

from django.contrib import admin, messages
from django.db.models import Case, When
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from realtime.errors import NotFound, Refused

from . import moderation, moderation_selectors, services
from .models import Membership, Message, MessageEdit, Report, Room, RoomBan


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    # The notification level and mute are the member's own choice.
    readonly_fields = ["joined_at", "last_read_seq", "notify_level", "muted_until"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "created_by", "created_at", "last_seq"]
    list_filter = ["kind"]
    search_fields = ["name", "slug"]
    # The pair of a direct room is set when it is opened and is how it is found.
    # Slow mode is set from the room page (chat.moderation tells the room's sockets).
    readonly_fields = ["created_at", "last_seq", "direct_low", "direct_high", "slow_mode_seconds"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


class MessageEditInline(admin.TabularInline):
    """The bodies a message had before its edits (staff with the view
    permission on message edits see them)."""

    model = MessageEdit
    extra = 0
    can_delete = False
    fields = ["edited_at", "body"]
    readonly_fields = ["edited_at", "body"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["room", "seq", "author", "short_body", "created_at", "edited_at", "deleted_at"]
    list_filter = ["room"]
    list_select_related = ["room", "author"]
    search_fields = ["body", "author__username", "room__slug"]
    # Every change to a message is a room event with the next seq, pushed to
    # the room (chat.services): the admin shows messages and deletes them the
    # same way, and changes nothing else.
    readonly_fields = [
        "room",
        "seq",
        "author",
        "body",
        "html",
        "client_id",
        "created_at",
        "reply_to",
        "edited_at",
        "deleted_at",
        "deleted_by",
    ]
    inlines = [MessageEditInline]

    @admin.display(description=_("body"))
    def short_body(self, obj: Message) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"

    def has_add_permission(self, request) -> bool:
        # New messages need a seq and a push: they come from the chat, not the admin.
        return False

    def delete_model(self, request, obj: Message) -> None:
        """Delete as the chat does: the message stays a deleted placeholder and
        disappears live from every socket of its room."""
        with contextlib.suppress(NotFound):  # deleted already
            services.message_delete(room=obj.room, actor=request.user, message_id=obj.pk)

    def delete_queryset(self, request, queryset) -> None:
        for message in queryset.select_related("room"):
            self.delete_model(request, message)

    def get_deleted_objects(self, objs, request):
        # Nothing cascades: a deletion keeps the row (and its room events).
        perms_needed = set() if self.has_delete_permission(request) else {"message"}
        return [str(obj) for obj in objs], {"messages": len(objs)}, perms_needed, []


# Moderation (chat.moderation): reports and bans.


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    """Open reports first; staff with chat.moderate_room resolve them with the
    actions (delete the message, ban its author from the room, dismiss)."""

    list_display = ["created_at", "status", "room", "message_author", "reporter", "short_reason"]
    list_filter = ["status"]
    list_select_related = ["message__room", "message__author", "reporter"]
    search_fields = ["reason", "reporter__username", "message__author__username"]
    readonly_fields = [
        "message",
        "message_body",
        "reporter",
        "reason",
        "status",
        "created_at",
        "resolved_at",
        "resolved_by",
    ]
    actions = ["resolve_delete", "resolve_ban", "resolve_dismiss"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .order_by(Case(When(status=Report.Status.OPEN, then=0), default=1), "-created_at")
        )

    @admin.display(description=_("room"))
    def room(self, obj: Report) -> str:
        return obj.message.room.slug

    @admin.display(description=_("author"))
    def message_author(self, obj: Report) -> str:
        return obj.message.author.get_username()

    @admin.display(description=_("reason"))
    def short_reason(self, obj: Report) -> str:
        return obj.reason if len(obj.reason) <= 80 else obj.reason[:79] + "…"

    @admin.display(description=_("message"))
    def message_body(self, obj: Report) -> str:
        return str(_("(deleted)")) if obj.message.deleted else obj.message.body

    def has_add_permission(self, request) -> bool:
        return False  # reports come from the room's members

    def has_moderate_permission(self, request) -> bool:
        return moderation_selectors.moderates_any_room(request.user)

    def _resolve(self, request, queryset, action: str) -> None:
        resolved = 0
        for report in queryset.filter(status=Report.Status.OPEN):
            try:
                resolved += moderation.report_resolve(
                    report_id=report.pk, actor=request.user, action=action
                )
            except Refused as error:
                self.message_user(request, f"{report}: {error.detail}", messages.ERROR)
        self.message_user(
            request,
            ngettext("%(n)d report resolved.", "%(n)d reports resolved.", resolved)
            % {"n": resolved},
            messages.SUCCESS,
        )

    @admin.action(description=_("Delete the message"), permissions=["moderate"])
    def resolve_delete(self, request, queryset) -> None:
        self._resolve(request, queryset, moderation.Resolution.DELETE)

    @admin.action(description=_("Ban the author from the room"), permissions=["moderate"])
    def resolve_ban(self, request, queryset) -> None:
        self._resolve(request, queryset, moderation.Resolution.BAN)

    @admin.action(description=_("Dismiss"), permissions=["moderate"])
    def resolve_dismiss(self, request, queryset) -> None:
        self._resolve(request, queryset, moderation.Resolution.DISMISS)


@admin.register(RoomBan)
class RoomBanAdmin(admin.ModelAdmin):
    list_display = ["room", "user", "banned_by", "created_at"]
    list_select_related = ["room", "user", "banned_by"]
    search_fields = ["room__slug", "user__username"]
    readonly_fields = ["room", "user", "banned_by", "created_at"]

    def has_add_permission(self, request) -> bool:
        # A ban closes sockets and removes the membership: it comes from the room page.
        return False
