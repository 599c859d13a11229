from django.contrib import admin, messages
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import services
from .forms import BroadcastForm
from .models import Broadcast, Delivery, Notification, PushSubscription

CONTENT_FIELDS = ["title", "body", "level", "url", "audience", "groups", "users", "critical"]
RECORD_FIELDS = ["created_by", "created_at", "sent_at", "recipient_count", "read_count"]


@admin.register(Broadcast)
class BroadcastAdmin(admin.ModelAdmin):
    """Saving a new Broadcast sends it once; a sent one is read-only."""

    form = BroadcastForm
    list_display = [
        "title",
        "level",
        "audience",
        "critical",
        "created_by",
        "created_at",
        "sent_at",
        "recipient_count",
        "read_count",
    ]
    list_filter = ["level", "audience", "critical"]
    list_select_related = ["created_by"]
    search_fields = ["title", "body"]
    autocomplete_fields = ["groups", "users"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _read_count=Count("notifications", filter=Q(notifications__read_at__isnull=False))
            )
        )

    @admin.display(description=_("read by"), ordering="_read_count")
    def read_count(self, obj: Broadcast) -> int:
        return getattr(obj, "_read_count", 0)

    def get_fields(self, request, obj=None):
        return CONTENT_FIELDS if obj is None else [*CONTENT_FIELDS, *RECORD_FIELDS]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [*CONTENT_FIELDS, *RECORD_FIELDS]

    def save_model(self, request, obj, form, change) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if not change:
            # After the audience (many-to-many) is saved; pushed after the admin's commit.
            count = services.broadcast_send(broadcast=form.instance)
            self.message_user(
                request,
                ngettext("Sent to %(count)s user.", "Sent to %(count)s users.", count)
                % {"count": count},
                messages.SUCCESS,
            )


class ReadFilter(admin.SimpleListFilter):
    title = _("read")
    parameter_name = "read"

    def lookups(self, request, model_admin):
        return [("no", _("Unread")), ("yes", _("Read"))]

    def queryset(self, request, queryset):
        if self.value() in {"yes", "no"}:
            return queryset.filter(read_at__isnull=self.value() == "no")
        return queryset


class DeliveryInline(admin.TabularInline):
    """Where the notification went (open tabs, email, push) and when: a record, read-only."""

    model = Delivery
    fields = ["channel", "status", "created_at", "detail"]
    readonly_fields = ["channel", "status", "created_at", "detail"]
    extra = 0
    can_delete = False
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Stored notifications, for looking up; they are made by `notify` and broadcasts."""

    list_display = ["title", "recipient", "kind", "level", "count", "created_at", "read_at"]
    list_filter = ["kind", "level", ReadFilter]
    list_select_related = ["recipient"]
    search_fields = ["title", "recipient__username"]
    readonly_fields = [
        "recipient",
        "kind",
        "actor",
        "title",
        "body",
        "level",
        "url",
        "target",
        "count",
        "replaces",
        "collapse_key",
        "broadcast",
        "created_at",
        "read_at",
    ]
    inlines = [DeliveryInline]
    show_full_result_count = False

    def has_add_permission(self, request) -> bool:
        # A notification needs a push: it comes from notify() or a broadcast.
        return False


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    """Browsers subscribed to Web Push: read and delete only (a browser makes them)."""

    list_display = ["user", "host", "created_at", "last_success_at", "failures"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    readonly_fields = [
        "user",
        "endpoint",
        "created_at",
        "updated_at",
        "last_success_at",
        "failures",
    ]
    # The browser's keys decrypt nothing on the server, but they are no one's business.
    exclude = ["p256dh", "auth", "session_hash"]

    @admin.display(description=_("host"))
    def host(self, obj: PushSubscription) -> str:
        return obj.host

    def has_add_permission(self, request) -> bool:
        return False
