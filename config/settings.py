"""Project settings. Every value that differs between machines comes from the
environment, here and nowhere else (docs/configuration in README.md)."""

import logging
import os
import secrets
import tempfile
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
logger = logging.getLogger(__name__)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "")
    items = [item.strip() for item in value.split(",") if item.strip()]
    return items or default


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value) if value.strip() else default
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from exc


# --- Core -----------------------------------------------------------------

# Development is the zero-setup default; production sets DJANGO_DEBUG=0.
DEBUG = env_bool("DJANGO_DEBUG", True)


def _secret_key() -> str:
    key = os.environ.get("DJANGO_SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set. Production (DJANGO_DEBUG=0) refuses to start "
            "without a real secret key."
        )
    # Kept in a file so every development process (and every restart) shares it
    # and sessions survive; never used when DEBUG is off.
    key_file = BASE_DIR / ".dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        logger.warning("DJANGO_SECRET_KEY is not set: made a development key in %s", key_file.name)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)
if not DEBUG and (not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS):
    raise ImproperlyConfigured(
        "Set DJANGO_ALLOWED_HOSTS to this site's host names; production never allows '*'."
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First, so `manage.py runserver` serves WebSockets too.
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    # Background tasks (email, Web Push) stored in the database, run by `db_worker`,
    # which `manage.py serve` and scripts/start supervise.
    "django_tasks",
    "django_tasks_db",
    "realtime",
    "accounts",
    "chat",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves static files from every Daphne worker, compressed and cached.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the switcher's cookie, else the browser's Accept-Language.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A logged-in user's stored language wins over the cookie and the header.
    "accounts.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: every middleware above in one thread hop, not one per hook (config.middleware).
    "config.middleware.SyncBoundary",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.client_config",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write
        # lock at BEGIN so concurrent sends queue instead of failing to upgrade.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Each database thread keeps its SQLite connection (realtime.db): opening one
    # per call, with Django's functions registered each time, cost more than the
    # queries. A broken or older one is replaced (close_old_connections).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 600)
    # Tests use a file too: in-memory shared-cache SQLite fails concurrent writers
    # with "table is locked" instead of waiting like the real database.
    # One file per test run, so runs side by side never share one.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"relay-test-{os.getpid()}.sqlite3")
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
    "DATABASE_POOL", True
):
    # A psycopg pool per process: sockets' database calls borrow a connection
    # instead of opening one each time (persistent connections don't suit ASGI).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env_int("DATABASE_POOL_MAX", 10),
        "timeout": 20,
    }
# Threads per process for the sockets' database calls (realtime.db); each keeps
# a pooled connection while busy (and gives it back when the pool runs short),
# so keep it below DATABASE_POOL_MAX.
DATABASE_THREADS = env_int("DATABASE_THREADS", 6)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer, presence and rate limits ------------------------------

# The same Redis hosts serve the channel layer, presence and the shared rate
# limits: one (REDIS_URL), several shards (REDIS_URLS, comma-separated; keys and
# groups are spread by channels-redis' consistent hash), or a Sentinel-managed
# master (REDIS_SENTINELS=host:port,... and REDIS_SENTINEL_MASTER).
REDIS_URL = os.environ.get("REDIS_URL", "")
REDIS_URLS = env_list("REDIS_URLS", [REDIS_URL] if REDIS_URL else [])
REDIS_SENTINELS = [
    (host, int(port))
    for host, _, port in (item.rpartition(":") for item in env_list("REDIS_SENTINELS", []))
]
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER", "")
if REDIS_SENTINELS and not REDIS_SENTINEL_MASTER:
    raise ImproperlyConfigured("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER (the master's name).")
REDIS_HOSTS: list = (
    [{"sentinels": REDIS_SENTINELS, "master_name": REDIS_SENTINEL_MASTER}]
    if REDIS_SENTINELS
    else REDIS_URLS
)
CHANNEL_LAYER = os.environ.get("CHANNEL_LAYER", "pubsub")


def channel_layer_config(hosts: list) -> dict:
    """Return the channel layer for CHANNEL_LAYER (docs/channel-layer.md says why)."""
    if CHANNEL_LAYER in {"pubsub", "pubsub-stock"}:
        # One Redis message per group send, fanned out in each process; group
        # memberships live in the process and are resubscribed after Redis
        # comes back, so a Redis restart loses no membership. Ours decodes a
        # group event once per process and calls the local consumers directly.
        backend = {
            "pubsub": "realtime.layers.LocalFanoutChannelLayer",
            "pubsub-stock": "channels_redis.pubsub.RedisPubSubChannelLayer",
        }[CHANNEL_LAYER]
        return {"BACKEND": backend, "CONFIG": {"hosts": hosts}}
    if CHANNEL_LAYER == "core":
        return {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": hosts,
                # The default inbox of 100 per process drops deliveries under load.
                "capacity": env_int("CHANNEL_LAYER_CAPACITY", 2000),
                "expiry": 30,
                # No shorter than the longest socket life.
                "group_expiry": 86400,
            },
        }
    raise ImproperlyConfigured(
        f"CHANNEL_LAYER is 'pubsub', 'pubsub-stock' or 'core', not {CHANNEL_LAYER!r}"
    )


if REDIS_URLS:
    # Login throttling counts here, shared by every worker (the first shard:
    # Django's Redis cache reads further URLs as replicas, not shards).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URLS[0],
            "KEY_PREFIX": "relay",
        }
    }
if REDIS_HOSTS:
    CHANNEL_LAYERS = {"default": channel_layer_config(REDIS_HOSTS)}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "realtime.layers.InProcessChannelLayer"}}
    logger.warning(
        "REDIS_URL is not set: using the in-memory channel layer, which serves ONE process "
        "only. Set REDIS_URL for several workers."
    )

# --- Chat limits ----------------------------------------------------------

# Rate limits, "N/S": N per S seconds (sliding) per user across all sockets and
# workers; "0" turns one off (realtime.ratelimit).
CHAT_SEND_RATE_LIMIT = os.environ.get("CHAT_SEND_RATE_LIMIT", "20/10")
# Milliseconds a send that came within this long of a worker's previous send,
# with no other send waiting, waits for the next one to share its batch
# (realtime.batch: a lone send's batch costs the most CPU); "0": every send is
# stored as soon as the writer is free.
CHAT_SEND_LINGER_MS = env_int("CHAT_SEND_LINGER_MS", 10)
# `history` frames: generous for paging back, not for pulling a room over and over.
CHAT_HISTORY_RATE_LIMIT = os.environ.get("CHAT_HISTORY_RATE_LIMIT", "30/10")
# Bytes of messages in `history` pages (each page is at most 512 KiB).
CHAT_HISTORY_BYTES_LIMIT = os.environ.get("CHAT_HISTORY_BYTES_LIMIT", "4194304/10")
# `typing` frames passed on to the room (the client sends one every 2 s while typing).
CHAT_TYPING_RATE_LIMIT = os.environ.get("CHAT_TYPING_RATE_LIMIT", "1/2")
# Read marks (chat `read`, notifications `read` and `read_all`): each is a write.
REALTIME_READ_RATE_LIMIT = os.environ.get("REALTIME_READ_RATE_LIMIT", "60/10")
# Rooms created (and direct conversations opened) from the chat pages.
CHAT_ROOM_CREATE_RATE_LIMIT = os.environ.get("CHAT_ROOM_CREATE_RATE_LIMIT", "10/600")
# The longest message body, in characters (the model, the form, the socket and the
# browser's composer all read this one).
CHAT_MAX_BODY_CHARS = 4000
# The longest room name, in characters (the model, the service and the form).
CHAT_ROOM_NAME_MAX_CHARS = 80
# Reactions: the distinct emoji one message may carry, and the UTF-8 bytes of one
# emoji (a family or a flag is a sequence of several code points).
CHAT_MESSAGE_EMOJI_MAX = 20
CHAT_EMOJI_MAX_BYTES = 32
# Moderation (chat.moderation): reports a user may file, the longest reason, the
# longest slow mode (seconds between one user's messages in a room), and the
# most messages a room may have pinned.
CHAT_REPORT_RATE_LIMIT = os.environ.get("CHAT_REPORT_RATE_LIMIT", "5/60")
CHAT_REPORT_REASON_MAX_CHARS = 500
CHAT_SLOW_MODE_MAX_SECONDS = 21600
CHAT_PINS_MAX = 50

# --- Attachments ------------------------------------------------------------

# The largest file one upload may be, in bytes (10 MB).
CHAT_MAX_UPLOAD_BYTES = env_int("CHAT_MAX_UPLOAD_BYTES", 10 * 1024 * 1024)
# Uploads per user, "N/S" like the limits above ("0" turns it off).
CHAT_UPLOAD_RATE_LIMIT = os.environ.get("CHAT_UPLOAD_RATE_LIMIT", "20/60")
# Attachments one message may carry, and pending (unsent) uploads one user may hold.
CHAT_MAX_ATTACHMENTS = 10
CHAT_MAX_PENDING_UPLOADS = 50
# An image over this many pixels is refused before it is decoded (a decompression
# bomb); a thumbnail fits in a square of CHAT_THUMBNAIL_SIZE pixels.
CHAT_MAX_IMAGE_PIXELS = env_int("CHAT_MAX_IMAGE_PIXELS", 40_000_000)
CHAT_THUMBNAIL_SIZE = 400
# Uploads never sent are deleted after this many hours (`manage.py attachments_cleanup`).
CHAT_UPLOAD_PENDING_HOURS = env_int("CHAT_UPLOAD_PENDING_HOURS", 24)
# Message search (chat.search): searches per user, and the longest query in characters.
CHAT_SEARCH_RATE_LIMIT = os.environ.get("CHAT_SEARCH_RATE_LIMIT", "30/60")
CHAT_SEARCH_QUERY_MAX_CHARS = 200

# --- Notifications -----------------------------------------------------------

# Seconds within which an unread notification with the same collapse key (reactions
# to one message, mentions in one room) grows instead of a new one arriving.
NOTIFY_GROUP_WINDOW = env_int("NOTIFY_GROUP_WINDOW", 600)
# Seconds an unread mention, reply or direct message waits before it is emailed.
NOTIFY_EMAIL_DELAY = env_int("NOTIFY_EMAIL_DELAY", 300)

# --- Every socket -----------------------------------------------------------

# The largest client frame any socket takes (4413 above it).
REALTIME_MAX_FRAME_BYTES = 64 * 1024
# A socket that sends nothing (the client pings every REALTIME_PING_INTERVAL) for
# this long is closed with 4408.
REALTIME_IDLE_TIMEOUT = env_int("REALTIME_IDLE_TIMEOUT", 90)
# Seconds between the browser's pings: under REALTIME_IDLE_TIMEOUT keeps a quiet socket open.
REALTIME_PING_INTERVAL = 25
# Seconds the browser waits for a pong before it drops a half-open socket and resumes.
REALTIME_PONG_TIMEOUT = 10
if REALTIME_IDLE_TIMEOUT <= REALTIME_PING_INTERVAL + REALTIME_PONG_TIMEOUT:
    raise ImproperlyConfigured(
        "REALTIME_IDLE_TIMEOUT must be longer than a ping and its pong "
        f"({REALTIME_PING_INTERVAL} + {REALTIME_PONG_TIMEOUT} s), or quiet sockets are closed."
    )
PRESENCE_TTL = env_int("PRESENCE_TTL", 45)
PRESENCE_HEARTBEAT = env_int("PRESENCE_HEARTBEAT", 15)
# Unsent bytes a worker (manage.py serve) holds for a client that stopped reading
# before it drops the connection; the client resumes by seq when it comes back.
REALTIME_MAX_SEND_BUFFER = env_int("REALTIME_MAX_SEND_BUFFER", 1024 * 1024)
# Seconds a `manage.py serve` worker lets a WebSocket handshake wait for the app.
REALTIME_HANDSHAKE_TIMEOUT = env_int("REALTIME_HANDSHAKE_TIMEOUT", 20)
# Seconds a client has to send a request's headers, in all (slowloris:
# realtime.header_deadline); also the idle limit while a request body is read.
REALTIME_HEADER_TIMEOUT = env_int("REALTIME_HEADER_TIMEOUT", 10)
if REALTIME_HEADER_TIMEOUT <= 0:
    raise ImproperlyConfigured("REALTIME_HEADER_TIMEOUT must be a positive number of seconds.")
# How often each worker checks that Redis answers, to resync sockets after an
# outage, with layers that can't say when their subscriptions are back.
REDIS_WATCH_INTERVAL = 1.0

# --- Auth, sessions, security ---------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:room_list"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Production is served over HTTPS (TLS ends at the proxy, which sets
# X-Forwarded-Proto). DJANGO_HTTPS=0 is only for plain-HTTP test deployments.
HTTPS = env_bool("DJANGO_HTTPS", not DEBUG)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    # Load balancers probe over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)

# No inline scripts anywhere: data reaches scripts through json_script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # The Django admin sets a few inline style attributes.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Bearer token for Prometheus scrapes of /metrics (staff sessions work too).
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

# "N/S": N failed logins per S seconds for one account from one address (then refused);
# the same N from anywhere slows the account down, 5 x N from one address across
# accounts refuses it for the accounts it failed (accounts/throttle.py). Also N signups
# per S seconds per address. "0" turns both off.
AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10/300")
# Open sockets per user across all workers: each tab holds the bell's socket and
# at most one room's, so 60 is about 30 tabs.
REALTIME_MAX_SOCKETS_PER_USER = env_int("REALTIME_MAX_SOCKETS_PER_USER", 60)
# Seconds between a socket's checks that its login session still holds (it can
# end without the logout view: expiry, deletion on the server).
REALTIME_SESSION_RECHECK = env_int("REALTIME_SESSION_RECHECK", 300)
# Seconds a worker keeps a checked login (session and user) for the next socket
# of the same session (realtime.auth); a logout, password change or deactivation
# ends it at once on every worker. 0 reads the database on every handshake.
REALTIME_LOGIN_CACHE_SECONDS = env_int("REALTIME_LOGIN_CACHE_SECONDS", 30)

# --- Background tasks and email -------------------------------------------

# Tasks are rows in the database (no other service to run); the worker is
# `manage.py db_worker`, started and restarted by `manage.py serve` and scripts/start.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Management commands `manage.py serve` runs beside its Daphne workers and restarts
# when they die. DJANGO_TASK_WORKER=0 where the task worker runs on its own
# (`manage.py db_worker`, any number of them, on other machines).
SERVE_SUPERVISED_COMMANDS: list[list[str]] = (
    [["db_worker", "--no-reload", "--queue-name", "*"]]
    if env_bool("DJANGO_TASK_WORKER", True)
    else []
)

# Django's own email settings, from the environment. Development prints emails on
# the console; production sets DJANGO_EMAIL_BACKEND to Django's SMTP backend.
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# A task sends while it holds its user's lock: a stuck mail server must not hold it long.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Relay <relay@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# (NOTIFY_EMAIL_DELAY, how long an unread notification waits before it is
# emailed, is with the notification settings above.)
# The site's address for links in emails: "https://chat.example.com".
SITE_URL = (
    os.environ.get("DJANGO_SITE_URL", "").rstrip("/")
    or f"https://{ALLOWED_HOSTS[0] if ALLOWED_HOSTS else 'localhost'}"
)
# Links in password-reset emails are valid this long (seconds; Django's default is 3 days).
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3600 * 24)

# --- Web Push -------------------------------------------------------------

# The VAPID key pair push services know this server by (`manage.py vapid_keys`
# makes one): base64url, the public key as an uncompressed P-256 point, the
# private key as its 32-byte number. The subject is how a push service reaches the
# operator: "mailto:ops@example.com" or an https URL. Without all three, Web Push
# is off (notifications.webpush.enabled) and the settings page says so.
WEBPUSH_VAPID_PUBLIC_KEY = os.environ.get("WEBPUSH_VAPID_PUBLIC_KEY", "").strip()
WEBPUSH_VAPID_PRIVATE_KEY = os.environ.get("WEBPUSH_VAPID_PRIVATE_KEY", "").strip()
WEBPUSH_VAPID_SUBJECT = os.environ.get("WEBPUSH_VAPID_SUBJECT", "").strip()
# A subscription's endpoint must be on one of these hosts (or a subdomain): the
# push services of Chrome, Firefox, Edge and Safari. The server posts to every
# stored endpoint, so anything else would let a user aim it at any address.
WEBPUSH_ENDPOINT_HOSTS = [
    host.lower().lstrip(".")
    for host in env_list(
        "WEBPUSH_ENDPOINT_HOSTS",
        ["fcm.googleapis.com", "push.services.mozilla.com", "notify.windows.com", "push.apple.com"],
    )
]
# Tests only: also accept plain-http endpoints on those hosts (a local stand-in
# push service). Production never needs it: every real push service is https.
WEBPUSH_ALLOW_HTTP = env_bool("WEBPUSH_ALLOW_HTTP", False)
if WEBPUSH_ALLOW_HTTP and not DEBUG:
    logger.warning("WEBPUSH_ALLOW_HTTP is on: push endpoints may be plain http (tests only).")

# --- I18N, static ---------------------------------------------------------

# English and Russian, the whole product (README: languages); catalogs in
# locale/, compiled by scripts/bootstrap (scripts/messages updates them).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The switcher's cookie lives a year; sockets read it at the handshake.
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT") or BASE_DIR / "staticfiles")
# Uploaded files (attachments). Never served from a URL of their own: every
# download goes through a view that checks access. On the file system by default;
# in any S3-compatible store when AWS_STORAGE_BUCKET_NAME is set (django-storages,
# which reads the rest: AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME, and boto3 the
# credentials, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT") or BASE_DIR / "media")
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")


def default_storage_config() -> dict:
    """Return the storage of uploaded files: S3-compatible with a bucket, else files."""
    if AWS_STORAGE_BUCKET_NAME:
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": AWS_STORAGE_BUCKET_NAME,
                "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
                "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
                "location": os.environ.get("AWS_LOCATION", ""),
                # Private objects; the app streams them after its own check.
                "default_acl": "private",
                "querystring_auth": True,
                "file_overwrite": False,
            },
        }
    return {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "file_permissions_mode": 0o640},
    }


STORAGES = {
    "default": default_storage_config(),
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "config.storage.StaticStorage"
    },
}
# Without collectstatic (development, tests), serve straight from the finders.
WHITENOISE_USE_FINDERS = DEBUG

# One line per event; LOG_FORMAT=json for log shippers. Events carry ids (user,
# room, broadcast), never message text.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django adds its own console handler in DEBUG; one line per event is enough.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
