"""Web Push over HTTP: storing and dropping a browser's subscription, and the
service worker that shows the pushes (docs/protocol.md)."""

import hashlib
import json
from functools import cache
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from realtime.errors import Refused

from . import push_services, webpush

# A subscription's JSON is about 300 bytes; anything this big is not one.
BODY_MAX_BYTES = 4096
SERVICE_WORKER = "js/sw.js"


def _refused(detail: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": detail}, status=status)


def _json_body(request) -> object:
    if len(request.body) > BODY_MAX_BYTES:
        raise Refused(_("The body is over %(max)s bytes.") % {"max": BODY_MAX_BYTES})
    try:
        return json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(_("The body is not JSON.")) from None


@require_POST
@login_required
def push_subscribe(request):
    if not webpush.enabled():
        return _refused(_("Push notifications are not set up on this server."))
    try:
        info = webpush.parse_subscription(_json_body(request))
    except Refused as error:
        return _refused(error.detail)
    push_services.push_subscribe(
        user=request.user, info=info, session_key=request.session.session_key
    )
    return JsonResponse({"endpoint": info.endpoint}, status=201)


@require_POST
@login_required
def push_unsubscribe(request):
    try:
        data = _json_body(request)
    except Refused as error:
        return _refused(error.detail)
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        return _refused(_('Send {"endpoint": …} with the subscription\'s endpoint.'))
    push_services.push_unsubscribe(user=request.user, endpoint=endpoint)
    return HttpResponse(status=204)


@cache  # keyed by the file's mtime: an edited worker is read again
def _cached_worker(path: str, mtime_ns: int) -> tuple[bytes, str]:
    body = Path(path).read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:32]


def _service_worker() -> tuple[bytes, str]:
    path = finders.find(SERVICE_WORKER)
    if not path:
        raise FileNotFoundError(SERVICE_WORKER)
    return _cached_worker(str(path), Path(path).stat().st_mtime_ns)


@require_GET
def service_worker(request):
    """Serve the service worker at the site's root, so its scope can be the whole site."""
    body, digest = _service_worker()
    etag = f'"{digest}"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    response["ETag"] = etag
    response["Service-Worker-Allowed"] = "/"
    # Browsers check for a new worker on navigation; a cached old one would
    # keep running for a day.
    response["Cache-Control"] = "no-cache"
    return response
