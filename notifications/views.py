from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chat import selectors as chat_selectors
from chat import services as chat_services
from chat.models import Membership

from . import policy, selectors, services
from .exceptions import NotificationNotFound
from .forms import PreferencesForm, RoomPreferenceForm


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _done(request, state):
    """Answer a mark-read POST: JSON for scripts, else back where the form was."""
    if _wants_json(request):
        return JsonResponse({"unread": state.count, "last_id": state.last_id})
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "notifications:list"
    return redirect(next_url)


@require_GET
@login_required
def notification_list(request):
    page = Paginator(selectors.notifications_for(user=request.user), selectors.PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    unread = selectors.unread_count(user=request.user)
    return render(request, "notifications/list.html", {"page": page, "unread": unread})


@require_POST
@login_required
def notification_read(request, notification_id: int):
    try:
        marked = services.notification_mark_read(user=request.user, notification_id=notification_id)
    except NotificationNotFound:
        raise Http404(_("No such notification.")) from None
    return _done(request, marked.state)


@require_POST
@login_required
def notification_read_all(request):
    state = services.notification_mark_all_read(user=request.user).state
    return _done(request, state)


@require_http_methods(["GET", "POST"])
@login_required
def notification_settings(request):
    """The user's notification preferences and their rooms' levels and mutes;
    a POST stores everything or, with any error, nothing."""
    row = policy.settings_for(request.user)
    memberships = list(
        Membership.objects.filter(user=request.user).select_related("room").order_by("room__name")
    )
    names = chat_selectors.room_display_names(
        rooms=[m.room for m in memberships], user=request.user
    )
    memberships.sort(key=lambda m: names[m.room_id].lower())
    now = timezone.now()
    data = request.POST if request.method == "POST" else None
    # Mute times are entered and shown in the user's (saved) time zone.
    with timezone.override(row.zone):
        form = PreferencesForm(data, instance=row)
        # A room joined since the page was shown is not in the post: left as it is.
        rooms = [
            RoomPreferenceForm(
                data if data is not None and f"room-{m.room_id}-level" in data else None,
                membership=m,
                now=now,
            )
            for m in memberships
        ]
        posted = [room for room in rooms if room.is_bound]
        if data is not None and form.is_valid() and all(room.is_valid() for room in posted):
            with transaction.atomic():
                form.save()
                for room in posted:
                    if room.has_changed():
                        chat_services.membership_notify_set(
                            room=room.membership.room,
                            user=request.user,
                            level=room.cleaned_data["level"],
                            muted_until=room.cleaned_data["muted_until"],
                        )
            messages.success(request, _("Your notification settings are saved."))
            return redirect("notification_settings")
        status = 400 if data is not None else 200
        return render(
            request,
            "notifications/settings.html",
            {
                "form": form,
                "rooms": [(names[room.membership.room_id], room) for room in rooms],
                "time_zone": row.time_zone,
            },
            status=status,
        )
