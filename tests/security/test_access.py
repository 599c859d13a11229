"""Who gets in, and what ends access while connected."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from harness.sockets import db, expect_close, open_room

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.mark.django_db(transaction=True)
async def test_password_change_closes_every_socket_of_the_user(connect_ws, public_room, alice):
    first, _ = await open_room(connect_ws, public_room, alice)
    second, _ = await open_room(connect_ws, public_room, alice)

    def change_password():
        alice.set_password("a-new-pass-phrase")
        alice.save()

    await db(change_password)()
    await expect_close(first, 4401)
    await expect_close(second, 4401)


@pytest.mark.django_db(transaction=True)
async def test_deactivated_user_is_closed(connect_ws, public_room, alice):
    socket, _ = await open_room(connect_ws, public_room, alice)
    alice.is_active = False
    await db(alice.save)()
    await expect_close(socket, 4401)


@pytest.mark.django_db(transaction=True)
async def test_resume_rechecks_access_after_removal(connect_ws, private_room, alice, bob):
    from chat import services

    await db(services.message_create)(room=private_room, author=alice, body="s", client_id="c")
    await db(services.member_remove)(room=private_room, actor=alice, username="bob")
    socket, connected, _ = await connect_ws(f"/ws/chat/{private_room.slug}/?after=0", bob)
    assert connected
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4403}


@pytest.mark.django_db(transaction=True)
async def test_removed_member_frames_do_nothing(connect_ws, private_room, alice, bob):
    from chat import services
    from chat.models import Message

    socket, _ = await open_room(connect_ws, private_room, bob)
    await db(services.member_remove)(room=private_room, actor=alice, username="bob")
    await expect_close(socket, 4403)
    assert await db(Message.objects.count)() == 0


@pytest.mark.django_db(transaction=True)
@override_settings(REALTIME_MAX_SOCKETS_PER_USER=2)
async def test_sockets_per_user_are_capped(connect_ws, public_room, alice, bob):
    await open_room(connect_ws, public_room, alice)
    await open_room(connect_ws, public_room, alice)
    third, connected, _ = await connect_ws(f"/ws/chat/{public_room.slug}/", alice)
    assert connected
    await expect_close(third, 4429)
    await open_room(connect_ws, public_room, bob)  # other users are unaffected


@pytest.mark.django_db(transaction=True)
async def test_anonymous_frames_reach_nothing(connect_ws, public_room):
    from chat.models import Message

    socket, _, _ = await connect_ws(f"/ws/chat/{public_room.slug}/")
    await socket.send_json_to({"type": "send", "body": "x", "client_id": "c"})
    assert await socket.receive_output(timeout=5) == {"type": "websocket.close", "code": 4401}
    assert await db(Message.objects.count)() == 0


@pytest.mark.django_db
@override_settings(AUTH_RATE_LIMIT="3/300")
def test_login_is_throttled_per_address_and_account(client, alice):
    for _ in range(3):
        response = client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-for-tests-1"})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@override_settings(AUTH_RATE_LIMIT="2/300")
def test_signup_is_throttled_per_address(client):
    from django.contrib.auth import get_user_model

    for n in range(2):
        client.post("/accounts/signup/", {"username": f"u{n}", "password1": "x", "password2": "y"})
    response = client.post(
        "/accounts/signup/",
        {"username": "dora", "password1": "a-long-pass-phrase", "password2": "a-long-pass-phrase"},
    )
    assert response.status_code == 429
    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_pages_send_a_csp_without_inline_scripts(client, alice):
    client.force_login(alice)
    response = client.get("/chat/")
    policy = response["Content-Security-Policy"]
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "'self'" in script_src
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert b"<script>" not in response.content  # no inline script blocks at all


@pytest.mark.django_db
def test_admin_shows_hostile_text_as_text(client, make_user, public_room, alice):
    from chat import services

    services.message_create(room=public_room, author=alice, body=HOSTILE, client_id="c")
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    html = client.get("/admin/chat/message/").content.decode()
    assert "<img src=x" not in html and "&lt;img src=x" in html


def _production_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="x" * 20 + "-production-like-secret-key-0123456789-abcdefghijklmnop",
        DJANGO_ALLOWED_HOSTS="chat.example.com",
        DATABASE_URL=f"sqlite:///{ROOT / '.run' / 'deploy-check.sqlite3'}",
    )
    env.update(extra)
    return env


def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=_production_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "*"}, "never allows '*'"),
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY is not set"),
    ],
)
def test_production_refuses_to_start_misconfigured(extra, message):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_production_env(**extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and message in result.stderr
