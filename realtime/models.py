"""realtime stores nothing in the database; this model (no table) only carries
the permission to read the admin's Live page, so it can be granted like any other."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class LivePage(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_live", "Can view the Live page: who is online, broadcast reach")]
        verbose_name = _("Live page")
        verbose_name_plural = _("live pages")

    def __str__(self) -> str:
        return "Live page"
