import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "channel_layer": "ok"}


@pytest.mark.django_db
def test_healthz_names_a_down_channel_layer(client):
    from channels.layers import channel_layers

    dead = "redis://127.0.0.1:1/0"
    layers = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [dead]}}
    }
    with override_settings(CHANNEL_LAYERS=layers, REDIS_HOSTS=[dead]):
        channel_layers.backends = {}
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "channel_layer": "down"}
