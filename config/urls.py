from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.views import guard_login, language_set
from notifications.live import live
from notifications.push_views import service_worker
from notifications.views import notification_settings
from realtime.views import healthz, metrics

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="chat:room_list", permanent=False)),
    path("accounts/", include("accounts.urls")),
    # The header's language switcher (Django's set_language, stored on the profile).
    path("language/", language_set, name="set_language"),
    path("chat/", include("chat.urls")),
    path("notifications/", include("notifications.urls")),
    path("settings/notifications/", notification_settings, name="notification_settings"),
    # The admin's login is throttled like the site's (accounts.throttle); this
    # pattern comes before admin.site.urls, which would otherwise answer it.
    path("admin/login/", guard_login(admin.site.login), name="admin_login"),
    path("admin/live/", admin.site.admin_view(live), name="admin_live"),
    path("admin/", admin.site.urls),
    # At the root: a service worker controls only the paths under its own.
    path("sw.js", service_worker, name="service_worker"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
]
