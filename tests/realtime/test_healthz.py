import pytest
import redis
from channels.layers import channel_layers, get_channel_layer
from django.test import override_settings

from config import settings as django_settings_module

PROBES = 50


@pytest.mark.django_db
def test_healthz_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_healthz_names_a_down_channel_layer(client):
    dead = "redis://127.0.0.1:1/0"
    layers = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}
    }
    with override_settings(CHANNEL_LAYERS=layers, REDIS_HOSTS=[dead]):
        channel_layers.backends = {}
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "channel_layer": "down"}


@pytest.mark.django_db
def test_healthz_names_the_layer_down_when_one_shard_is_down(client, redis_url):
    hosts = [redis_url, "redis://127.0.0.1:1/0"]
    layers = {"default": django_settings_module.channel_layer_config(hosts)}
    with override_settings(CHANNEL_LAYERS=layers, REDIS_HOSTS=hosts):
        channel_layers.backends = {}
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "channel_layer": "down"}


def _layers(redis_url: str) -> dict[str, tuple[dict, list]]:
    """CHANNEL_LAYER choices (config.settings) and the in-memory layer, with their hosts."""
    pubsub = django_settings_module.channel_layer_config([redis_url])
    stock = {**pubsub, "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer"}
    core = {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [redis_url], "capacity": 2000, "expiry": 30},
    }
    memory = {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    return {
        "pubsub": (pubsub, [redis_url]),
        "pubsub-stock": (stock, [redis_url]),
        "core": (core, [redis_url]),
        "memory": (memory, []),
    }


def _left_behind(redis_url: str) -> dict:
    """What a probe could leave: Redis subscriptions and keys, the layer's queues."""
    server = redis.Redis.from_url(redis_url)
    layer = get_channel_layer()
    return {
        "pubsub channels": sorted(server.pubsub_channels("*")),
        "pubsub patterns": server.pubsub_numpat(),
        "keys": sorted(server.keys("*")),
        "layer channels": len(getattr(layer, "channels", {})),
        "layer receive buffer": len(getattr(layer, "receive_buffer", {})),
    }


@pytest.mark.parametrize("name", ["pubsub", "pubsub-stock", "core", "memory"])
@pytest.mark.django_db(transaction=True)
async def test_healthz_probes_leave_no_subscription_queue_or_key_behind(
    async_client, redis_url, name
):
    config, hosts = _layers(redis_url)[name]
    with override_settings(CHANNEL_LAYERS={"default": config}, REDIS_HOSTS=hosts):
        channel_layers.backends = {}
        before = _left_behind(redis_url)
        for _ in range(PROBES):
            response = await async_client.get("/healthz")
            assert response.status_code == 200
            assert response.json() == {"database": "ok", "channel_layer": "ok"}
        assert _left_behind(redis_url) == before
