"""The end of the middleware chain: Django's middleware in one hop to the request's thread.

Why. Under ASGI, Django builds the chain from the view outwards, and every
middleware that can run either way takes the mode of the one below it. Django's
own (MiddlewareMixin: sessions, CSRF, auth, messages, and django-csp's) run in
async mode when the one below is async, and then send each of their hooks
through sync_to_async: a hop to the request's thread and back for every
process_request and process_response. With one sync-only middleware last, every
one above runs in sync mode, all of them in one hop to the request's thread; the
hops left are to the view and back (and CSRF's process_view). Measured with
`python -m bench.pages` (bench/README.md, "Pages"), and counted by
tests/test_middleware_hops.py. Keep it last: a middleware below it runs in
async mode again, one hop per hook.
"""


class SyncBoundary:
    """Sync-only and last in MIDDLEWARE (see the module); passes the request on."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
