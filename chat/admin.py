from django.contrib import admin

from .models import Membership, Message, Room


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["joined_at", "last_read_seq"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "created_by", "created_at", "last_seq"]
    list_filter = ["kind"]
    search_fields = ["name", "slug"]
    # The pair of a direct room is set when it is opened and is how it is found.
    readonly_fields = ["created_at", "last_seq", "direct_low", "direct_high"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["room", "seq", "author", "short_body", "created_at"]
    list_filter = ["room"]
    list_select_related = ["room", "author"]
    search_fields = ["body", "author__username", "room__slug"]
    # seq and room are given out by message_create; editing them would break ordering.
    readonly_fields = ["room", "seq", "author", "client_id", "created_at"]

    @admin.display(description="body")
    def short_body(self, obj: Message) -> str:
        return obj.body if len(obj.body) <= 80 else obj.body[:79] + "…"

    def has_add_permission(self, request) -> bool:
        # New messages need a seq and a push: they come from the chat, not the admin.
        return False
