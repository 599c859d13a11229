from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class UsernameKey(models.Model):
    """A user's look-alike key (accounts.usernames.username_key), unique and indexed so
    signup finds a look-alike with one lookup.

    `key` is empty (NULL) when another account already had this look: made by staff,
    or before this check existed. Signup never stores NULL (it refuses instead), so a
    name is compared with the account that first held its look. Users made with
    `bulk_create` (no post_save signal) have no row.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="username_key",
        verbose_name=_("user"),
    )
    # Unbounded: NFKC and the skeleton can make a 150-character name longer.
    key = models.TextField(unique=True, null=True, verbose_name=_("key"))

    class Meta:
        verbose_name = _("username key")
        verbose_name_plural = _("username keys")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.key}"


class Profile(models.Model):
    """A user's settings (the settings page). A user without a row has the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="profile",
        verbose_name=_("user"),
    )
    # Whether the rooms' "Seen by" may name this user (chat asks through a signal).
    share_read_position = models.BooleanField(
        _("Show others how far I have read"),
        default=True,
        help_text=_('Others see "Seen by" with your name under the messages you have read.'),
    )
    # The language of every page, email, push and notification this user gets
    # (settings.LANGUAGES); empty until chosen or first detected at login.
    language = models.CharField(
        _("Language"), max_length=8, blank=True, default="", choices=settings.LANGUAGES
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return f"settings of {self.user_id}"


class Block(models.Model):
    """`blocker` blocks `blocked`: no direct conversation between them, and no
    notification of a mention from `blocked` to `blocker`."""

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="blocks_made",
        verbose_name=_("blocker"),
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="blocks_received",
        verbose_name=_("blocked"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["blocker", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="block_unique_pair"),
            models.CheckConstraint(
                condition=~models.Q(blocker=models.F("blocked")), name="block_not_self"
            ),
        ]
        verbose_name = _("block")
        verbose_name_plural = _("blocks")

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"
