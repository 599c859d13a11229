"""The admin's Live page: who is online now and where, across every worker
(realtime's socket registry), and how far each broadcast went."""

from collections import Counter
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _

from realtime import registry, tally
from realtime.groups import user_group

from .consumers import BROADCAST_PUSHED_KEY
from .models import Broadcast
from .selectors import broadcasts_with_reads

# Every socket of every user is present in its user's `sockets.user.<id>` group.
SOCKETS_PREFIX = f"sockets.{user_group(0).rsplit('.', 1)[0]}."
ONLINE_SHOWN = 500


async def live_data() -> dict:
    groups = await registry.all_groups(SOCKETS_PREFIX)
    users: dict[int, str] = {}
    per_worker: Counter[str] = Counter()
    for members in groups.values():
        for member in members:
            worker, user_id, username = registry.parse_member(member)
            users[user_id] = username
            per_worker[worker] += 1
    online = sorted(users.values(), key=str.lower)
    return {
        "online_count": len(online),
        "online": online[:ONLINE_SHOWN],
        "sockets_total": sum(per_worker.values()),
        "workers": sorted(per_worker.items()),
        "pushed": await tally.read(BROADCAST_PUSHED_KEY),
    }


VIEW_PERMISSION = "realtime.view_live"


@dataclass(frozen=True)
class BroadcastReach:
    broadcast: Broadcast
    pushed: int  # sockets it was written to, across workers


def live(request):
    """Show the Live page to staff with realtime.view_live (superusers have it).

    config/urls.py wraps it in admin_view, which lets in any staff member and
    takes sync views.
    """
    # Every online username and each broadcast's reach: not for every staff
    # member, just as the broadcast admin refuses staff without its permissions.
    if not request.user.has_perm(VIEW_PERMISSION):
        raise PermissionDenied
    data = async_to_sync(live_data)()
    broadcasts = [
        BroadcastReach(broadcast, pushed=data["pushed"].get(str(broadcast.pk), 0))
        for broadcast in broadcasts_with_reads()
    ]
    context = {
        **admin.site.each_context(request),
        **data,
        "broadcasts": broadcasts,
        "title": _("Live"),
    }
    return TemplateResponse(request, "admin/live.html", context)
