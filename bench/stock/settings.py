"""The project's settings with the tutorial's channel layer: channels-redis' core
layer with its default settings (capacity 100, expiry 60 s, group_expiry 1 day)."""

from config.settings import *  # noqa: F403
from config.settings import REDIS_URL

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}
