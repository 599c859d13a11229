"""Email end to end, all real processes: `manage.py serve` (Daphne and the task
worker it supervises, on the database task backend), a real SMTP server (aiosmtpd)
and an offline user who is mentioned. The email arrives with its headers, parts and
links; the one-click unsubscribe POST from a mail client changes the preference."""

from __future__ import annotations

import os
import signal
import time
import urllib.parse
import urllib.request

import pytest

from harness.processes import child_pids, cmdline, free_port
from harness.smtp_server import SmtpServer
from harness.stack import Stack

pytestmark = pytest.mark.integration

SETUP = """
from django.contrib.auth import get_user_model
from chat import services
User = get_user_model()
alice = User.objects.create_user('alice', password='pw-alice-123456')
bob = User.objects.create_user('bob', email='bob@example.com', password='pw-bob-123456')
room = services.room_create(name='Launch <plans>', created_by=alice)
services.room_join(room=room, user=bob)
message = services.message_create(
    room=room, author=alice, body='hey @bob, the <b>launch</b> moved', client_id='m1'
).message
print(json.dumps({'bob': bob.pk, 'room_url': room.get_absolute_url(), 'message': message.pk}))
"""

BOB_PREFERENCES = """
from notifications.models import Delivery, NotificationSettings
row = NotificationSettings.objects.filter(user_id=args['bob']).first()
print(json.dumps({
    'email_kinds': row.email_kinds if row else None,
    'deliveries': list(Delivery.objects.filter(channel='email').values_list('status', flat=True)),
}))
"""


@pytest.fixture
def smtp(tmp_path):
    server = SmtpServer(tmp_path).start()
    yield server
    server.stop()


def served_stack(smtp: SmtpServer, port: int) -> Stack:
    # Collected static files: with DEBUG off the pages need them, as in production.
    return Stack(
        collect_static=True,
        extra_env={
            "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp.port),
            "DEFAULT_FROM_EMAIL": "Relay <relay@chat.example.com>",
            "DJANGO_SITE_URL": f"http://127.0.0.1:{port}",
            "NOTIFY_EMAIL_DELAY": "1",
        },
    )


def test_an_offline_user_who_was_mentioned_is_emailed_and_unsubscribes_in_one_click(smtp):
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    with served_stack(smtp, port) as stack:
        stack.start_worker(port=port, serve=True)
        made = stack.shell(SETUP)
        (message,) = smtp.wait_for(1, timeout=60)

        assert message["From"] == "Relay <relay@chat.example.com>"
        assert message["To"] == "bob@example.com"
        assert message["Subject"] == "alice mentioned you in Launch <plans>"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # (A long header is folded onto a second line.)
        unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
        assert unsubscribe.startswith(f"{site}/notifications/unsubscribe/")
        assert message.get_content_type() == "multipart/alternative"
        text = message.get_body(("plain",)).get_content()
        html = message.get_body(("html",)).get_content()
        at_message = f"{site}{made['room_url']}?at={made['message']}"
        assert at_message in text and f'href="{at_message}"' in html
        # User text is escaped in the HTML part.
        assert "the &lt;b&gt;launch&lt;/b&gt; moved" in html and "<b>launch" not in html
        assert "Launch &lt;plans&gt;" in html
        # The link leads to the room (through the login page for a logged-out browser).
        with urllib.request.urlopen(at_message, timeout=10) as response:  # noqa: S310
            assert response.status == 200
            landed = urllib.parse.urlsplit(response.url)
        assert landed.path == "/accounts/login/"
        assert urllib.parse.parse_qs(landed.query)["next"] == [
            f"{made['room_url']}?at={made['message']}"
        ]

        before = stack.shell(BOB_PREFERENCES, bob=made["bob"])
        assert before["deliveries"] == ["sent"]
        # What a mail client sends for a one-click unsubscribe (RFC 8058): no cookie, no CSRF.
        request = urllib.request.Request(  # noqa: S310
            unsubscribe,
            data=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.status == 200
        after = stack.shell(BOB_PREFERENCES, bob=made["bob"])
        assert "mention" not in after["email_kinds"]
        assert "reply" in after["email_kinds"]


def task_worker_pids(serve_pid: int) -> list[int]:
    return [pid for pid in child_pids(serve_pid) if "db_worker" in cmdline(pid)]


def test_serve_restarts_the_task_worker_when_it_dies(smtp):
    port = free_port()
    with served_stack(smtp, port) as stack:
        served = stack.start_worker(port=port, serve=True)
        assert served.process is not None
        (first,) = task_worker_pids(served.process.pid)
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while True:
            pids = task_worker_pids(served.process.pid)
            if pids and pids != [first]:
                break
            assert time.monotonic() < deadline, "the task worker was not restarted"
            time.sleep(0.1)
        # The new worker runs tasks: a mention is emailed.
        stack.shell(SETUP)
        smtp.wait_for(1, timeout=60)
