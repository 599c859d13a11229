from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from . import selectors, services
from .exceptions import NotificationNotFound


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
        raise Http404("No such notification.") from None
    return _done(request, marked.state)


@require_POST
@login_required
def notification_read_all(request):
    state = services.notification_mark_all_read(user=request.user).state
    return _done(request, state)
