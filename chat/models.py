from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import slugs

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class Room(models.Model):
    class Kind(models.TextChoices):
        PUBLIC = "public", _("Public")
        PRIVATE = "private", _("Private")
        DIRECT = "direct", _("Direct message")

    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("slug"))
    name = models.CharField(max_length=settings.CHAT_ROOM_NAME_MAX_CHARS, verbose_name=_("name"))
    kind = models.CharField(
        max_length=10, choices=Kind, default=Kind.PUBLIC, verbose_name=_("kind")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    # The seq of the room's newest event (a message, an edit, a deletion, a
    # reaction); given out under this row's lock.
    last_seq = models.PositiveBigIntegerField(default=0, verbose_name=_("last seq"))
    # Slow mode: the seconds a member waits between two messages (0: off); the
    # owner and moderators are exempt (chat.moderation).
    slow_mode_seconds = models.PositiveIntegerField(default=0, verbose_name=_("slow mode seconds"))
    # Typed by hand: django-stubs does not infer a `through` model named by a string.
    members: "models.ManyToManyField[User, Membership]" = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="Membership",
        related_name="chat_rooms",
        verbose_name=_("members"),
    )
    # A direct room is found by its two people (lower id first), never by a
    # name anyone can choose. SET_NULL: deleting one keeps the other's copy.
    direct_low = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("direct low"),
    )
    direct_high = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("direct high"),
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            # Rows with a NULL in the pair never collide: only non-direct rooms
            # (and direct rooms whose person was deleted) have one.
            models.UniqueConstraint(
                fields=["direct_low", "direct_high"], name="room_unique_direct_pair"
            ),
            models.CheckConstraint(
                condition=Q(kind="direct") | Q(direct_low__isnull=True, direct_high__isnull=True),
                name="room_pair_only_direct",
            ),
            models.CheckConstraint(
                condition=Q(direct_low__isnull=True)
                | Q(direct_high__isnull=True)
                | Q(direct_low__lt=F("direct_high")),
                name="room_direct_pair_ordered",
            ),
        ]
        verbose_name = _("room")
        verbose_name_plural = _("rooms")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("chat:room_detail", kwargs={"slug": self.slug})

    def clean(self) -> None:
        """Refuse, in the admin too, what would let a room pass for another."""
        if self.kind != self.Kind.DIRECT and slugs.is_reserved(self.slug or ""):
            raise ValidationError(
                {"slug": _("This address is reserved; choose one that doesn't start with dm-.")}
            )
        was_direct = (
            self.pk is not None and Room.objects.filter(pk=self.pk, kind=self.Kind.DIRECT).exists()
        )
        if was_direct != (self.kind == self.Kind.DIRECT):
            raise ValidationError(
                {"kind": _("Direct conversations are opened by messaging someone and stay direct.")}
            )

    @property
    def is_public(self) -> bool:
        return self.kind == self.Kind.PUBLIC


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", _("Owner")
        MEMBER = "member", _("Member")

    class NotifyLevel(models.TextChoices):
        ALL = "all", _("Everything")
        MENTIONS = "mentions", _("Mentions only")
        NONE = "none", _("Nothing")

    room = models.ForeignKey(
        Room,
        on_delete=models.CASCADE,
        related_name="memberships",
        verbose_name=_("room"),
        db_index=False,  # membership_unique_room_user starts with the room
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_memberships",
        verbose_name=_("user"),
    )
    role = models.CharField(
        max_length=10, choices=Role, default=Role.MEMBER, verbose_name=_("role")
    )
    joined_at = models.DateTimeField(auto_now_add=True, verbose_name=_("joined at"))
    last_read_seq = models.PositiveBigIntegerField(default=0, verbose_name=_("last read seq"))
    # Which notifications the room may cause its member (notifications reads these).
    notify_level = models.CharField(
        max_length=10, choices=NotifyLevel, default=NotifyLevel.ALL, verbose_name=_("notify level")
    )
    # Until then nothing from the room goes beyond the inbox (no email, no push).
    muted_until = models.DateTimeField(null=True, blank=True, verbose_name=_("muted until"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["room", "user"], name="membership_unique_room_user")
        ]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")

    def __str__(self) -> str:
        return gettext("%(user)s in %(room)s") % {"user": self.user, "room": self.room}

    @property
    def is_owner(self) -> bool:
        return self.role == self.Role.OWNER


class Message(models.Model):
    # Every stored message writes each of its indexes: none here is covered by
    # another, and the two that are nearly always empty index only their rows
    # (Meta.indexes).
    room = models.ForeignKey(
        Room,
        on_delete=models.CASCADE,
        related_name="messages",
        verbose_name=_("room"),
        db_index=False,  # both unique constraints start with the room
    )
    seq = models.PositiveBigIntegerField(verbose_name=_("seq"))
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_messages",
        verbose_name=_("author"),
    )
    body = models.TextField(max_length=settings.CHAT_MAX_BODY_CHARS, verbose_name=_("body"))
    # The body rendered once when stored or edited (chat.rendering): sanitised HTML.
    html = models.TextField(blank=True, default="", verbose_name=_("html"))
    client_id = models.CharField(max_length=64, verbose_name=_("client id"))
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )
    reply_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
        verbose_name=_("reply to"),
        db_index=False,  # message_reply_to
    )
    edited_at = models.DateTimeField(null=True, blank=True, verbose_name=_("edited at"))
    deleted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("deleted at"))
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("deleted by"),
        db_index=False,  # message_deleted_by
    )

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="message_unique_room_seq"),
            models.UniqueConstraint(
                fields=["room", "author", "client_id"], name="message_unique_client_id"
            ),
        ]
        indexes = [
            # Lookups (replies to a message, a deleted user's deletions) always
            # ask for a value, which the database reads as "not null".
            models.Index(
                fields=["reply_to"], name="message_reply_to", condition=Q(reply_to__isnull=False)
            ),
            models.Index(
                fields=["deleted_by"],
                name="message_deleted_by",
                condition=Q(deleted_by__isnull=False),
            ),
        ]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.room.slug}#{self.seq}"

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None


class MessageEdit(models.Model):
    """A message's body before one of its edits (seen by staff in the admin)."""

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="edits", verbose_name=_("message")
    )
    body = models.TextField(verbose_name=_("body"))
    edited_at = models.DateTimeField(verbose_name=_("edited at"))

    class Meta:
        ordering = ["message", "edited_at", "id"]
        verbose_name = _("message edit")
        verbose_name_plural = _("message edits")

    def __str__(self) -> str:
        return f"{self.message} before {self.edited_at:%Y-%m-%d %H:%M:%S}"


class Reaction(models.Model):
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="reactions", verbose_name=_("message")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_reactions",
        verbose_name=_("user"),
    )
    emoji = models.CharField(max_length=32, verbose_name=_("emoji"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["message", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["message", "user", "emoji"], name="reaction_unique_message_user_emoji"
            )
        ]
        verbose_name = _("reaction")
        verbose_name_plural = _("reactions")

    def __str__(self) -> str:
        return f"{self.emoji} by {self.user_id} on {self.message_id}"


class RoomEvent(models.Model):
    """One change to what a room shows, numbered by the room's seq, with the
    frame that went out live: resume, `catch_up` and resync send this text as
    it is, never serialising again per socket."""

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Message")
        EDIT = "edit", _("Edit")
        DELETE = "delete", _("Delete")
        REACTION = "reaction", _("Reaction")
        PIN = "pin", _("Pin")
        UNPIN = "unpin", _("Unpin")

    room = models.ForeignKey(
        Room,
        on_delete=models.CASCADE,
        related_name="events",
        verbose_name=_("room"),
        db_index=False,  # room_event_unique_room_seq starts with the room
    )
    seq = models.PositiveBigIntegerField(verbose_name=_("seq"))
    kind = models.CharField(max_length=10, choices=Kind, verbose_name=_("kind"))
    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="events", verbose_name=_("message")
    )
    text = models.TextField(verbose_name=_("text"))

    class Meta:
        ordering = ["room", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["room", "seq"], name="room_event_unique_room_seq")
        ]
        verbose_name = _("room event")
        verbose_name_plural = _("room events")

    def __str__(self) -> str:
        return f"{self.room_id}#{self.seq} {self.kind}"


class Attachment(models.Model):
    """A file uploaded to a room: pending (no message) until its uploader sends
    a message with it (chat.attachments.bind), then the message's. Its files are
    reached only through the download view, which checks access on every request."""

    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("room")
    )
    uploader = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_attachments",
        verbose_name=_("uploader"),
    )
    message = models.ForeignKey(
        Message,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
        verbose_name=_("message"),
    )
    # Storage keys (random, meaningless); the thumbnail only for inline images.
    file = models.FileField(max_length=200, verbose_name=_("file"))
    thumb = models.FileField(max_length=200, blank=True, verbose_name=_("thumb"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    size = models.PositiveBigIntegerField(verbose_name=_("size"))
    # Sniffed from the content, never the name.
    content_type = models.CharField(max_length=100, verbose_name=_("content type"))
    width = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("width"))
    height = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("height"))
    created_at = models.DateTimeField(
        auto_now_add=True, db_index=True, verbose_name=_("created at")
    )

    class Meta:
        # By id alone: ordering by `message` would join messages for their own
        # ordering, which PostgreSQL refuses under SELECT ... FOR UPDATE.
        ordering = ["id"]
        indexes = [
            models.Index(fields=["uploader", "message"], name="attachment_uploader_message"),
        ]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


# Moderation (chat.moderation): bans, reports and pins.


class RoomBan(models.Model):
    """A user kept out of a room: they can't join it, read it or post in it."""

    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="bans", verbose_name=_("room")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_bans",
        verbose_name=_("user"),
    )
    banned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("banned by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["room", "-created_at"]
        constraints = [models.UniqueConstraint(fields=["room", "user"], name="room_ban_unique")]
        # Staff with this permission moderate every room as its owner does.
        permissions = [("moderate_room", _("Can moderate any room"))]
        verbose_name = _("room ban")
        verbose_name_plural = _("room bans")

    def __str__(self) -> str:
        return gettext("%(user)s banned from %(room)s") % {"user": self.user, "room": self.room}


class Report(models.Model):
    """A member's report of a message, for staff to resolve in the admin."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DELETED = "deleted", _("Message deleted")
        BANNED = "banned", _("Author banned")
        DISMISSED = "dismissed", _("Dismissed")

    message = models.ForeignKey(
        Message, on_delete=models.CASCADE, related_name="reports", verbose_name=_("message")
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chat_reports",
        verbose_name=_("reporter"),
    )
    reason = models.TextField(
        max_length=settings.CHAT_REPORT_REASON_MAX_CHARS, verbose_name=_("reason")
    )
    status = models.CharField(
        max_length=10, choices=Status, default=Status.OPEN, db_index=True, verbose_name=_("status")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    resolved_at = models.DateTimeField(null=True, blank=True, verbose_name=_("resolved at"))
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("resolved by"),
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One open report per reporter and message; a resolved one may be followed by another.
            models.UniqueConstraint(
                fields=["reporter", "message"],
                condition=Q(status="open"),
                name="report_one_open_per_reporter",
            )
        ]
        verbose_name = _("report")
        verbose_name_plural = _("reports")

    def __str__(self) -> str:
        return gettext("report %(id)s on %(message)s") % {"id": self.pk, "message": self.message_id}


class Pin(models.Model):
    """A message pinned to its room's header."""

    room = models.ForeignKey(
        Room, on_delete=models.CASCADE, related_name="pins", verbose_name=_("room")
    )
    message = models.OneToOneField(
        Message, on_delete=models.CASCADE, related_name="pin", verbose_name=_("message")
    )
    pinned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("pinned by"),
    )
    pinned_at = models.DateTimeField(auto_now_add=True, verbose_name=_("pinned at"))

    class Meta:
        ordering = ["room", "-pinned_at", "-id"]
        verbose_name = _("pin")
        verbose_name_plural = _("pins")

    def __str__(self) -> str:
        return gettext("%(message)s pinned") % {"message": self.message}
