import zoneinfo
from datetime import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from realtime.errors import Refused

from .validation import BODY_MAX, TITLE_MAX, URL_MAX, clean_content, validate_site_path


class Level(models.TextChoices):
    INFO = "info", _("Info")
    SUCCESS = "success", _("Success")
    WARNING = "warning", _("Warning")
    ERROR = "error", _("Error")


# Targets of notifications about chat: "chat.message:8812", "chat.room:12".
MESSAGE_TARGET = "chat.message:"
ROOM_TARGET = "chat.room:"


def message_target(message_id: int) -> str:
    return f"{MESSAGE_TARGET}{message_id}"


def target_id(target: str, prefix: str) -> int | None:
    """The id a target of kind `prefix` names ("chat.message:8812" → 8812), or
    None for a target of another kind or one no row can have (not a positive
    integer, or past a 64-bit id)."""
    if not target.startswith(prefix):
        return None
    try:
        value = int(target.removeprefix(prefix))
    except ValueError:
        return None
    return value if 0 < value < 2**63 else None


class Kind(models.TextChoices):
    """What a notification is about; the preferences switch email and push per kind."""

    MENTION = "mention", _("Mentions")
    REPLY = "reply", _("Replies to my messages")
    REACTION = "reaction", _("Reactions to my messages")
    DIRECT = "direct", _("Direct messages")
    BROADCAST = "broadcast", _("Announcements")
    SYSTEM = "system", _("System")


class Broadcast(models.Model):
    """One message to an audience, sent once as a Notification per recipient."""

    class Audience(models.TextChoices):
        ALL = "all", _("All active users")
        GROUPS = "groups", _("Groups")
        USERS = "users", _("Users")

    title = models.CharField(max_length=TITLE_MAX, verbose_name=_("title"))
    body = models.TextField(max_length=BODY_MAX, blank=True, verbose_name=_("body"))
    level = models.CharField(
        max_length=10, choices=Level, default=Level.INFO, verbose_name=_("level")
    )
    url = models.CharField(
        max_length=URL_MAX,
        blank=True,
        validators=[validate_site_path],
        help_text=_("A path on this site, like /chat/general/."),
        verbose_name=_("url"),
    )
    audience = models.CharField(
        max_length=10, choices=Audience, default=Audience.ALL, verbose_name=_("audience")
    )
    critical = models.BooleanField(
        default=False,
        help_text=_("Pushed even in quiet hours and to people who switched announcements off."),
        verbose_name=_("critical"),
    )
    groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="notification_broadcasts",
        help_text=_("With the audience “Groups”: the active members of these groups."),
        verbose_name=_("groups"),
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="notification_broadcasts",
        help_text=_("With the audience “Users”: these users."),
        verbose_name=_("users"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("sent at"))
    recipient_count = models.PositiveIntegerField(
        default=0, editable=False, verbose_name=_("recipient count")
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        # The field validators catch most; this is the same rule `notify` applies.
        try:
            clean_content(title=self.title, body=self.body, level=self.level, url=self.url)
        except Refused as error:
            raise ValidationError(error.detail) from None


class Notification(models.Model):
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        # Covered by the (recipient, id) index below.
        db_index=False,
        # No constraint in the database, as for `broadcast` and `actor` below: a
        # broadcast stores a row per user, and PostgreSQL checks a foreign key
        # row by row (Django makes it deferred: at commit). For 10,000 rows this
        # check took 112 ms of the statement's 294-321 (EXPLAIN ANALYZE). Rows are
        # written only for users read in the same transaction (`_insert_for_users`
        # selects them in its INSERT), and deleting a user still deletes their
        # rows (CASCADE runs in Django). With the constraint, a user deleted
        # while a broadcast is being stored made the whole broadcast fail at
        # commit; without it, that one row is left behind.
        db_constraint=False,
        verbose_name=_("recipient"),
    )
    title = models.CharField(max_length=TITLE_MAX, verbose_name=_("title"))
    body = models.TextField(max_length=BODY_MAX, blank=True, verbose_name=_("body"))
    level = models.CharField(
        max_length=10, choices=Level, default=Level.INFO, verbose_name=_("level")
    )
    url = models.CharField(
        max_length=URL_MAX, blank=True, validators=[validate_site_path], verbose_name=_("url")
    )
    broadcast = models.ForeignKey(
        Broadcast,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
        # No constraint in the database (see `recipient`). Only
        # `_insert_for_users` writes it, with the id of the broadcast it made in
        # the same transaction; deleting a broadcast still empties it (SET_NULL
        # runs in Django, not the database).
        db_constraint=False,
        verbose_name=_("broadcast"),
    )
    # What the notification is about, for the app that caused it to find it
    # again without this app knowing that one's models: "chat.message:8812".
    target = models.CharField(max_length=100, blank=True, default="", verbose_name=_("target"))
    kind = models.CharField(
        max_length=10, choices=Kind, default=Kind.SYSTEM, verbose_name=_("kind")
    )
    # Who caused it (the newest of them when grouped); null for the system.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        # No constraint in the database (see `recipient`): its check runs for
        # every row, null or not (11 ms for a broadcast to 10,000). The index is
        # the partial one below: a broadcast's rows have no actor, and an index
        # of every row held 10,000 entries of null per broadcast.
        db_constraint=False,
        db_index=False,
        verbose_name=_("actor"),
    )
    # How many events it stands for, and the distinct actors among them, newest
    # first (the title names the newest and counts the others).
    count = models.PositiveIntegerField(default=1, verbose_name=_("count"))
    actor_ids = models.JSONField(
        default=list, blank=True, editable=False, verbose_name=_("actor ids")
    )
    # The id of the unread notification this one grew from (that row is gone).
    replaces = models.PositiveBigIntegerField(
        null=True, blank=True, editable=False, verbose_name=_("replaces")
    )
    # Unread notifications of one recipient that share it become one (grouping).
    collapse_key = models.CharField(
        max_length=120, blank=True, default="", verbose_name=_("collapse key")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))

    class Meta:
        ordering = ["-id"]
        indexes = [
            # A user's stream, newest first, and resume after an id.
            models.Index(fields=["recipient", "id"], name="notif_recipient_id"),
            # The unread count reads only this (small) partial index.
            models.Index(
                fields=["recipient", "id"],
                condition=Q(read_at__isnull=True),
                name="notif_recipient_unread",
            ),
            # Notifications about one thing (a message deleted, mentions made once).
            models.Index(fields=["target"], condition=~Q(target=""), name="notif_target"),
            # The unread notification a new one groups with.
            models.Index(
                fields=["recipient", "collapse_key"],
                condition=Q(read_at__isnull=True) & ~Q(collapse_key=""),
                name="notif_unread_collapse",
            ),
            # What SET_NULL looks up when an actor is deleted.
            models.Index(fields=["actor"], condition=Q(actor__isnull=False), name="notif_actor"),
        ]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")

    def __str__(self) -> str:
        return f"{self.title} → {self.recipient_id}"

    def get_absolute_url(self) -> str:
        return self.url or reverse("notifications:list")

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("“%(value)s” is not a known time zone."), params={"value": value})


def default_email_kinds() -> list[str]:
    return [Kind.MENTION, Kind.REPLY, Kind.DIRECT]


def default_push_kinds() -> list[str]:
    return [Kind.MENTION, Kind.REPLY, Kind.DIRECT, Kind.BROADCAST]


def default_time_zone() -> str:
    return settings.TIME_ZONE


class NotificationSettings(models.Model):
    """One user's delivery preferences beyond the open tab; a user without a
    row has the defaults (notifications.policy.settings_for)."""

    class EmailTiming(models.TextChoices):
        OFF = "off", _("Never")
        SOON = "soon", _("Soon, when I haven't read it")
        DAILY = "daily", _("Once a day, a digest")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_settings",
        verbose_name=_("user"),
    )
    email_kinds = models.JSONField(
        default=default_email_kinds, blank=True, verbose_name=_("email kinds")
    )
    push_kinds = models.JSONField(
        default=default_push_kinds, blank=True, verbose_name=_("push kinds")
    )
    email_timing = models.CharField(
        max_length=5, choices=EmailTiming, default=EmailTiming.SOON, verbose_name=_("email timing")
    )
    digest_hour = models.PositiveSmallIntegerField(
        default=8, validators=[MaxValueValidator(23)], verbose_name=_("digest hour")
    )
    time_zone = models.CharField(
        max_length=64,
        default=default_time_zone,
        validators=[validate_time_zone],
        verbose_name=_("time zone"),
    )
    # Local times in `time_zone`; start after end wraps midnight (22:00 to 07:00).
    quiet_start = models.TimeField(null=True, blank=True, verbose_name=_("quiet start"))
    quiet_end = models.TimeField(null=True, blank=True, verbose_name=_("quiet end"))

    class Meta:
        verbose_name = _("notification settings")
        verbose_name_plural = _("notification settings")

    def __str__(self) -> str:
        return f"Notification settings of {self.user_id}"

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            # A zone the system no longer knows: fall back rather than fail a send.
            return zoneinfo.ZoneInfo(settings.TIME_ZONE)

    @property
    def quiet_hours(self) -> tuple[time, time] | None:
        if self.quiet_start is None or self.quiet_end is None:
            return None
        if self.quiet_start == self.quiet_end:
            return None
        return self.quiet_start, self.quiet_end


class Delivery(models.Model):
    """One channel's attempt at bringing a notification to its recipient."""

    class Channel(models.TextChoices):
        SOCKET = "socket", _("Open tabs")
        EMAIL = "email", _("Email")
        PUSH = "push", _("Web Push")

    class Status(models.TextChoices):
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    notification = models.ForeignKey(
        Notification,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("notification"),
    )
    channel = models.CharField(max_length=10, choices=Channel, verbose_name=_("channel"))
    status = models.CharField(max_length=10, choices=Status, verbose_name=_("status"))
    detail = models.TextField(blank=True, default="", verbose_name=_("detail"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        ordering = ["notification", "created_at", "id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")

    def __str__(self) -> str:
        return f"{self.channel} {self.status} for {self.notification_id}"


class PushSubscription(models.Model):
    """One browser's Web Push subscription (its `PushSubscription.toJSON()`).

    An endpoint belongs to one browser profile, so it is one row: subscribing it
    again updates the keys and may move it to whoever is logged in there now.
    """

    ENDPOINT_MAX = 1000

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="push_subscriptions",
        verbose_name=_("user"),
    )
    endpoint = models.CharField(max_length=ENDPOINT_MAX, unique=True, verbose_name=_("endpoint"))
    # The browser's P-256 public key and auth secret, base64url, to encrypt for it.
    p256dh = models.CharField(max_length=100, verbose_name=_("p256dh"))
    auth = models.CharField(max_length=50, verbose_name=_("auth"))
    # Which login subscribed it (hashed like realtime's session groups): logging
    # out there ends it, so the next person at a shared browser gets no pushes
    # meant for the last one.
    session_hash = models.CharField(
        max_length=64, blank=True, default="", db_index=True, verbose_name=_("session hash")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    last_success_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last success at"))
    # Failed sends in a row (timeouts, 5xx); a 404 or 410 removes it at once.
    failures = models.PositiveIntegerField(default=0, verbose_name=_("failures"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")

    def __str__(self) -> str:
        return f"push {self.host} → {self.user_id}"

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).hostname or ""
