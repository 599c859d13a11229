"""Move rooms off reserved addresses, and give existing direct rooms their pair.

Until now a direct room was found by its slug `dm-<low>-<high>`, which anyone could
take first by naming a room "dm 1 9". Such a room keeps its data under a new slug
(`room-` in front, as chat.slugs now does for new names); direct rooms get the
pair they are found by from now on. The rules are copied, not imported: a
migration must keep doing what it did when it was written.
"""

import re

from django.conf import settings
from django.db import migrations
from django.db.models import Q

RESERVED = ("new", "direct", "dm")
DIRECT_PREFIX = "dm-"
DIRECT_SLUG = re.compile(r"dm-(\d+)-(\d+)")
SLUG_MAX = 80


def _reserved(Room):
    query = Q(slug__istartswith=DIRECT_PREFIX)
    for word in RESERVED:
        query |= Q(slug__iexact=word)
    return Room.objects.exclude(kind="direct").filter(query)


def rename_squatters(apps, schema_editor) -> None:
    """Give every non-direct room on a reserved slug a free one, keeping its data."""
    Room = apps.get_model("chat", "Room")
    for room in _reserved(Room).order_by("pk"):
        base = ("room-" + room.slug.lower())[: SLUG_MAX - 4].strip("-")
        slug, n = base, 2
        while Room.objects.filter(slug=slug).exists():
            slug, n = f"{base}-{n}", n + 1
        Room.objects.filter(pk=room.pk).update(slug=slug)


def fill_direct_pairs(apps, schema_editor) -> None:
    """Record the two people of every direct room: from the slug the room was
    opened under, else from its two members. A pair gets one room (the oldest)."""
    Room = apps.get_model("chat", "Room")
    Membership = apps.get_model("chat", "Membership")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    taken = set(
        Room.objects.filter(direct_low__isnull=False, direct_high__isnull=False).values_list(
            "direct_low_id", "direct_high_id"
        )
    )
    unpaired = Room.objects.filter(kind="direct", direct_low__isnull=True, direct_high__isnull=True)
    for room in unpaired.order_by("pk"):
        pair = None
        match = DIRECT_SLUG.fullmatch(room.slug)
        if match:
            low, high = int(match[1]), int(match[2])
            if low < high and User.objects.filter(pk__in=[low, high]).count() == 2:
                pair = (low, high)
        if pair is None:
            members = sorted(Membership.objects.filter(room_id=room.pk).values_list("user_id", flat=True))
            if len(members) == 2:
                pair = (members[0], members[1])
        if pair is None or pair in taken:
            continue
        Room.objects.filter(pk=room.pk).update(direct_low_id=pair[0], direct_high_id=pair[1])
        taken.add(pair)


def forwards(apps, schema_editor) -> None:
    rename_squatters(apps, schema_editor)
    fill_direct_pairs(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0002_room_direct_pair"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Backwards: the fields go with 0002; renamed slugs stay renamed.
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
