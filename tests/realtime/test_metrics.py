"""/metrics tells true numbers, and only to staff or the metrics token."""

import asyncio
import re

import pytest
from django.test import Client, override_settings
from prometheus_client import REGISTRY

from harness.sockets import db, open_room, receive
from notifications import services as notification_services
from realtime import metrics


def sample(text: str, name: str, **labels) -> float:
    """Return the value of one series in Prometheus text output (0 if absent)."""
    wanted = {"worker": metrics.WORKER, **labels}
    for line in text.splitlines():
        match = re.match(rf"^{name}\{{(.*)\}} (\S+)$", line)
        if match:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1)))
            if found == wanted:
                return float(match.group(2))
    return 0.0


def scrape(client: Client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


@pytest.mark.django_db
def test_metrics_need_staff_or_the_token(client, make_user):
    assert client.get("/metrics").status_code == 403
    client.force_login(make_user("plain"))
    assert client.get("/metrics").status_code == 403
    with override_settings(METRICS_TOKEN="s3cret-token"):
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
        assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token").status_code == 200
    client.force_login(make_user("ops", is_staff=True))
    assert client.get("/metrics").status_code == 200


@pytest.mark.django_db(transaction=True)
async def test_counters_follow_a_known_number_of_messages(
    connect_ws, public_room, alice, bob, make_user
):
    staff = Client()
    await db(staff.force_login)(await db(make_user)("ops", is_staff=True))
    before = await db(scrape)(staff)

    a, _ = await open_room(connect_ws, public_room, alice)
    b, _ = await open_room(connect_ws, public_room, bob)
    await a.send_to(text_data="not json")
    await receive(a, "error")
    for n in range(5):
        await a.send_json_to({"type": "send", "body": f"m{n}", "client_id": f"c{n}"})
        for socket in (a, b):
            await receive(socket, "message")
    await db(notification_services.notify)([alice, bob], title="Ping")
    notes, _, _ = await connect_ws("/ws/notifications/", alice)
    await receive(notes, "hello")
    after = await db(scrape)(staff)

    def delta(name, **labels):
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta("relay_messages_stored_total") == 5
    # 5 messages x 2 sockets
    assert delta("relay_events_delivered_total", event="chat.message") == 10
    assert delta("relay_frames_refused_total", reason="invalid") == 1
    assert delta("relay_sockets_open", kind="chat") == 2
    assert delta("relay_sockets_open", kind="notifications") == 1
    assert delta("relay_handshake_seconds_count", kind="chat") == 2
    assert delta("relay_delivery_seconds_count", event="chat.message") >= 5


def series_value(name: str, **labels) -> float:
    value = REGISTRY.get_sample_value(name, {**labels, "worker": metrics.WORKER})
    return value or 0.0


async def test_summed_bumps_reach_their_series_as_one_when_the_loop_pass_ends():
    name, event = "relay_events_delivered_total", "test.summed"
    summed = metrics.here_summed(metrics.events_delivered, event)
    before = series_value(name, event=event)
    for _ in range(3):
        summed.inc()
    assert series_value(name, event=event) == before
    await asyncio.sleep(0)
    assert series_value(name, event=event) == before + 3
    summed.inc(2)
    await asyncio.sleep(0)
    assert series_value(name, event=event) == before + 5


def test_summed_bumps_without_an_event_loop_reach_their_series_at_once():
    name, event = "relay_events_delivered_total", "test.summed-sync"
    before = series_value(name, event=event)
    metrics.here_summed(metrics.events_delivered, event).inc()
    assert series_value(name, event=event) == before + 1


@pytest.mark.django_db(transaction=True)
async def test_a_broadcast_counts_one_frame_per_socket_that_got_it(connect_ws, alice, bob):
    sockets = []
    for user in (alice, alice, bob):
        socket, _, _ = await connect_ws("/ws/notifications/", user)
        await receive(socket, "hello")
        sockets.append(socket)
    pushed = series_value("relay_notifications_pushed_total")
    broadcast = series_value("relay_broadcast_deliveries_total")
    await db(notification_services.broadcast)(title="Maintenance")
    for socket in sockets:
        await receive(socket, "notification")
    await asyncio.sleep(0)
    assert series_value("relay_notifications_pushed_total") == pushed + 3
    assert series_value("relay_broadcast_deliveries_total") == broadcast + 3
