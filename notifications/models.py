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
