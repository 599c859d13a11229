import contextlib

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from realtime.errors import NotFound

from . import services
from .models import Membership, Message, MessageEdit, Room


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
    readonly_fields = ["created_at", "last_seq", "direct_low", "direct_high"]
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
