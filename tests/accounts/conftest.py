import pytest


@pytest.fixture
def redis_cache(settings, redis_url):
    """Count login and signup attempts in the test redis-server, as production does."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": "relay",
        }
    }
