from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from realtime.errors import Refused

from .validation import BODY_MAX, TITLE_MAX, URL_MAX, clean_content, validate_site_path


class Level(models.TextChoices):
    INFO = "info", "Info"
    SUCCESS = "success", "Success"
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class Broadcast(models.Model):
    """One message to an audience, sent once as a Notification per recipient."""

    class Audience(models.TextChoices):
        ALL = "all", "All active users"
        GROUPS = "groups", "Groups"
        USERS = "users", "Users"

    title = models.CharField(max_length=TITLE_MAX)
    body = models.TextField(max_length=BODY_MAX, blank=True)
    level = models.CharField(max_length=10, choices=Level, default=Level.INFO)
    url = models.CharField(
        max_length=URL_MAX,
        blank=True,
        validators=[validate_site_path],
        help_text="A path on this site, like /chat/general/.",
    )
    audience = models.CharField(max_length=10, choices=Audience, default=Audience.ALL)
    groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="notification_broadcasts",
        help_text="With the audience “Groups”: the active members of these groups.",
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="notification_broadcasts",
        help_text="With the audience “Users”: these users.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    recipient_count = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]

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
    )
    title = models.CharField(max_length=TITLE_MAX)
    body = models.TextField(max_length=BODY_MAX, blank=True)
    level = models.CharField(max_length=10, choices=Level, default=Level.INFO)
    url = models.CharField(max_length=URL_MAX, blank=True, validators=[validate_site_path])
    broadcast = models.ForeignKey(
        Broadcast, null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )
    # What the notification is about, for the app that caused it to find it
    # again without this app knowing that one's models: "chat.message:8812".
    target = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

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
        ]

    def __str__(self) -> str:
        return f"{self.title} → {self.recipient_id}"

    def get_absolute_url(self) -> str:
        return self.url or reverse("notifications:list")

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class PushSubscription(models.Model):
    """One browser's Web Push subscription (its `PushSubscription.toJSON()`).

    An endpoint belongs to one browser profile, so it is one row: subscribing it
    again updates the keys and may move it to whoever is logged in there now.
    """

    ENDPOINT_MAX = 1000

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.CharField(max_length=ENDPOINT_MAX, unique=True)
    # The browser's P-256 public key and auth secret, base64url, to encrypt for it.
    p256dh = models.CharField(max_length=100)
    auth = models.CharField(max_length=50)
    # Which login subscribed it (hashed like realtime's session groups): logging
    # out there ends it, so the next person at a shared browser gets no pushes
    # meant for the last one.
    session_hash = models.CharField(max_length=64, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    # Failed sends in a row (timeouts, 5xx); a 404 or 410 removes it at once.
    failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"push {self.host} → {self.user_id}"

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).hostname or ""
