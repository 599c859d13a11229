"""Attachments: upload, sniffing, images made safe, binding to a message, and
downloads that check access on every request."""

import io
import json
import struct
import zlib
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import timezone
from PIL import Image

from chat import attachments, services
from chat.models import Attachment, Message
from harness.sockets import db, open_room, receive
from realtime.errors import Refused

# The views run their database work in the database threads (realtime.db): the
# data they read must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

HTML = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):
    """Each test stores its files in a fresh directory (the default storage)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    settings.CHAT_UPLOAD_RATE_LIMIT = "0"
    yield tmp_path / "media"


def stored_files(media) -> list[str]:
    return sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())


def content(response) -> bytes:
    """The body of a streamed file response (an async stream, read here)."""
    return b"".join(response)


def png(width=64, height=48, color="red", **save) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG", **save)
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    """A 60x30 photo whose EXIF says: rotate 90° to show it (orientation 6) and
    where it was taken (GPS)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    out = io.BytesIO()
    Image.new("RGB", (60, 30), "blue").save(
        out, "JPEG", exif=exif.tobytes(), xmp=b"<x:xmpmeta>GPSLatitude 48.85</x:xmpmeta>"
    )
    return out.getvalue()


def png_bomb(width=30000, height=30000) -> bytes:
    """A valid PNG header and a tiny zlib stream claiming 900 million pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(200)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    )


def upload(client, room, name: str, data: bytes):
    slug = room if isinstance(room, str) else room.slug
    return client.post(f"/chat/{slug}/attachments/", {"file": _named(name, data)})


def _named(name: str, data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/png")


@pytest.fixture
def as_user():
    def login(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return login


def uploaded(client, room, name, data) -> dict:
    response = upload(client, room, name, data)
    assert response.status_code == 201, response.content
    return response.json()["attachment"]


def send(room, author, attachment_ids, body="", client_id="c-1"):
    return services.message_create(
        room=room, author=author, body=body, client_id=client_id, attachment_ids=attachment_ids
    )


# Uploads


def test_image_upload_answers_the_attachment_with_a_thumbnail(as_user, public_room, alice):
    response = upload(as_user(alice), public_room, "cat.png", png(1200, 600))
    assert response.status_code == 201
    attachment = response.json()["attachment"]
    assert attachment == {
        "id": attachment["id"],
        "name": "cat.png",
        "size": attachment["size"],
        "content_type": "image/png",
        "url": f"/chat/files/{attachment['id']}/",
        "thumb_url": f"/chat/files/{attachment['id']}/thumb/",
        "width": 1200,
        "height": 600,
    }
    thumb = as_user(alice).get(attachment["thumb_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
    image = Image.open(io.BytesIO(content(thumb)))
    assert image.size == (400, 200)


def test_photo_is_stored_upright_without_exif_or_gps(as_user, public_room, alice):
    attachment = uploaded(as_user(alice), public_room, "holiday.jpg", jpeg_with_gps())
    assert (attachment["width"], attachment["height"]) == (30, 60)  # turned upright
    stored = as_user(alice).get(attachment["url"])
    data = content(stored)
    image = Image.open(io.BytesIO(data))
    assert image.format == "JPEG" and image.size == (30, 60)
    assert dict(image.getexif()) == {}
    assert "exif" not in image.info and "xmp" not in image.info
    assert b"GPS" not in data and b"PhoneMaker" not in data
    thumb = content(as_user(alice).get(attachment["thumb_url"]))
    assert b"GPS" not in thumb and dict(Image.open(io.BytesIO(thumb)).getexif()) == {}


@override_settings(CHAT_MAX_UPLOAD_BYTES=50_000)
def test_oversized_file_is_refused_and_nothing_is_stored(as_user, public_room, alice, _media):
    response = upload(as_user(alice), public_room, "big.bin", b"x" * 50_001)
    assert response.status_code == 413
    body = response.json()
    assert body["type"] == "error" and body["code"] == "too_large" and body["detail"]
    assert Attachment.objects.count() == 0 and stored_files(_media) == []
    # At the limit is fine.
    assert upload(as_user(alice), public_room, "ok.bin", b"x" * 50_000).status_code == 201


@override_settings(CHAT_MAX_UPLOAD_BYTES=50_000)
def test_body_far_over_the_limit_is_refused_by_its_length(as_user, public_room, alice, _media):
    response = upload(as_user(alice), public_room, "huge.bin", b"x" * 200_000)
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    assert stored_files(_media) == []


def test_renamed_html_file_is_sniffed_and_only_ever_downloaded(as_user, public_room, alice, bob):
    services.room_join(room=public_room, user=bob)
    attachment = uploaded(as_user(alice), public_room, "kitten.png", HTML)
    assert attachment["content_type"] == "application/octet-stream"
    assert attachment["thumb_url"] is None and attachment["width"] is None
    send(public_room, alice, [attachment["id"]])
    response = as_user(bob).get(attachment["url"])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == 'attachment; filename="kitten.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert content(response) == HTML  # stored as sent


def test_svg_with_script_is_never_inline(as_user, public_room, alice):
    attachment = uploaded(as_user(alice), public_room, "logo.svg", SVG)
    assert attachment["content_type"] != "image/svg+xml" or attachment["thumb_url"] is None
    assert attachment["thumb_url"] is None
    response = as_user(alice).get(attachment["url"])
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert as_user(alice).get(f"/chat/files/{attachment['id']}/thumb/").status_code == 404


def test_decompression_bomb_is_refused_before_decoding(as_user, public_room, alice, _media):
    bomb = png_bomb()
    assert len(bomb) < 100_000
    response = upload(as_user(alice), public_room, "bomb.png", bomb)
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert Attachment.objects.count() == 0 and stored_files(_media) == []


def test_image_that_does_not_decode_is_refused(as_user, public_room, alice, _media):
    broken = png()[:60]
    response = upload(as_user(alice), public_room, "broken.png", broken)
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert stored_files(_media) == []


def test_non_ascii_and_hostile_names_are_encoded_safely(as_user, public_room, alice):
    attachment = uploaded(as_user(alice), public_room, "../../etc/отчёт v2;.pdf", b"%PDF-1.4 x")
    assert attachment["name"] == "отчёт v2;.pdf"
    # A name with quotes and line breaks (the test client can't send one as is).
    Attachment.objects.filter(pk=attachment["id"]).update(
        name=attachments.clean_name('отчёт "v2";\r\n.pdf')
    )
    response = as_user(alice).get(attachment["url"])
    disposition = response["Content-Disposition"]
    assert (
        disposition
        == "attachment; filename*=utf-8''%D0%BE%D1%82%D1%87%D1%91%D1%82%20%22v2%22%3B.pdf"
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("C:\\Users\\me\\secret.txt", "secret.txt"),
        ("../../etc/passwd", "passwd"),
        ("a\x00b\u202ec.txt", "abc.txt"),
        ("", "file"),
        ("...", "file"),
        (None, "file"),
        ("x" * 300 + ".jpeg", "x" * 195 + ".jpeg"),
    ],
)
def test_names_are_cleaned(raw, clean):
    assert attachments.clean_name(raw) == clean


def test_upload_needs_a_login_a_readable_room_and_one_file(client, as_user, private_room, carol):
    assert upload(client, private_room, "a.txt", b"hi").status_code == 403
    response = upload(as_user(carol), private_room, "a.txt", b"hi")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = upload(as_user(carol), "no-such-room", "a.txt", b"hi")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Attachment.objects.count() == 0


def test_upload_without_a_file_is_invalid(as_user, public_room, alice):
    response = as_user(alice).post(f"/chat/{public_room.slug}/attachments/", {})
    assert response.status_code == 400 and response.json()["code"] == "invalid"


@pytest.mark.parametrize(
    ("content_type", "extra"),
    [
        ("multipart/form-data; boundary=xx", {}),
        ("multipart/form-data; boundary=", {}),
        ("multipart/form-data; boundary=xx", {"CONTENT_LENGTH": "abc"}),
        ("application/json", {}),
    ],
)
def test_malformed_upload_requests_are_400(public_room, alice, content_type, extra):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.generic(
        "POST",
        f"/chat/{public_room.slug}/attachments/",
        b"--xx\r\ngarbage",
        content_type=content_type,
        **extra,
    )
    assert response.status_code == 400
    assert Attachment.objects.count() == 0


def test_upload_needs_the_csrf_token(public_room, alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert upload(client, public_room, "a.txt", b"hi").status_code == 403
    page = client.get(public_room.get_absolute_url())
    token = page.cookies["csrftoken"].value
    response = client.post(
        f"/chat/{public_room.slug}/attachments/",
        {"file": _named("a.txt", b"hi")},
        headers={"X-CSRFToken": token, "Origin": "http://testserver"},
    )
    assert response.status_code == 201
    assert Attachment.objects.count() == 1
    # The token of the page, but posted from another site: refused too.
    response = client.post(
        f"/chat/{public_room.slug}/attachments/",
        {"file": _named("b.txt", b"hi")},
        headers={"X-CSRFToken": token, "Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert Attachment.objects.count() == 1


def test_uploads_over_the_rate_limit_get_429_with_retry_after(
    as_user, public_room, alice, settings
):
    settings.CHAT_UPLOAD_RATE_LIMIT = "2/60"
    client = as_user(alice)
    assert upload(client, public_room, "1.txt", b"1").status_code == 201
    assert upload(client, public_room, "2.txt", b"2").status_code == 201
    response = upload(client, public_room, "3.txt", b"3")
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited" and response.json()["retry_after"] > 0
    assert int(response["Retry-After"]) >= 1
    assert Attachment.objects.count() == 2


# Sending with attachments


def test_send_binds_attachments_and_the_frame_carries_them(as_user, public_room, alice):
    client = as_user(alice)
    photo = uploaded(client, public_room, "a.png", png())
    doc = uploaded(client, public_room, "notes.txt", b"plain text")
    stored = send(public_room, alice, [photo["id"], doc["id"]], body="look")
    message = stored.message
    assert sorted(message.attachments.values_list("pk", flat=True)) == [photo["id"], doc["id"]]
    event = message.events.get()
    frame = json.loads(event.text)
    assert frame["message"]["attachments"] == [photo, doc]


def test_message_of_attachments_only_is_allowed(as_user, public_room, alice):
    attachment = uploaded(as_user(alice), public_room, "a.png", png())
    stored = send(public_room, alice, [attachment["id"]], body="  ")
    assert stored.created and stored.message.body == ""
    with pytest.raises(Refused):
        send(public_room, alice, [], body="", client_id="c-2")


def test_resend_returns_the_original_with_its_attachments(as_user, public_room, alice):
    attachment = uploaded(as_user(alice), public_room, "a.png", png())
    first = send(public_room, alice, [attachment["id"]])
    again = send(public_room, alice, [attachment["id"]])
    assert not again.created and again.message.pk == first.message.pk
    assert Message.objects.count() == 1
    assert list(again.message.attachments.values_list("pk", flat=True)) == [attachment["id"]]


@pytest.mark.parametrize("case", ["someone_elses", "other_room", "already_sent", "unknown"])
def test_send_with_an_attachment_it_may_not_use_stores_nothing(
    as_user, public_room, alice, bob, case
):
    other_room = services.room_create(name="Other", created_by=alice)
    services.room_join(room=public_room, user=bob)
    mine = uploaded(as_user(alice), public_room, "mine.txt", b"mine")
    if case == "someone_elses":
        target = uploaded(as_user(bob), public_room, "bobs.txt", b"bob")["id"]
    elif case == "other_room":
        target = uploaded(as_user(alice), other_room, "there.txt", b"there")["id"]
    elif case == "already_sent":
        target = uploaded(as_user(alice), public_room, "sent.txt", b"sent")["id"]
        send(public_room, alice, [target], client_id="c-first")
    else:
        target = 10**9
    before = Message.objects.count()
    with pytest.raises(Refused) as refused:
        send(public_room, alice, [mine["id"], target], body="hi", client_id="c-refused")
    assert refused.value.code == "not_found"
    assert Message.objects.count() == before
    assert Attachment.objects.get(pk=mine["id"]).message_id is None  # nothing bound


@pytest.mark.parametrize(
    "ids", ["1", [True], [0], [1, 1], list(range(1, 12)), [{"id": 1}], [2**63]]
)
def test_malformed_attachment_ids_are_invalid(public_room, alice, ids):
    with pytest.raises(Refused) as refused:
        send(public_room, alice, ids, body="hi")
    assert refused.value.code == "invalid"
    assert Message.objects.count() == 0


async def test_send_frame_with_attachment_ids_reaches_the_room(connect_ws, public_room, alice, bob):
    await db(services.room_join)(room=public_room, user=bob)
    attachment = await db(_upload_directly)(public_room, alice, "a.png", png())
    alice_ws, _ = await open_room(connect_ws, public_room, alice)
    bob_ws, _ = await open_room(connect_ws, public_room, bob)
    await alice_ws.send_json_to(
        {"type": "send", "body": "", "client_id": "c-x", "attachment_ids": [attachment.pk]}
    )
    for ws in (alice_ws, bob_ws):
        frame = await receive(ws, "message")
        assert [a["id"] for a in frame["message"]["attachments"]] == [attachment.pk]
        assert (
            frame["message"]["attachments"][0]["thumb_url"] == f"/chat/files/{attachment.pk}/thumb/"
        )
    # Stored bound to the message, as the frame says.
    await db(attachment.refresh_from_db)()
    assert attachment.message_id == frame["message"]["id"]
    # Someone else's id: an error frame echoing the client_id, nothing stored.
    await bob_ws.send_json_to(
        {"type": "send", "body": "mine?", "client_id": "c-y", "attachment_ids": [attachment.pk]}
    )
    error = await receive(bob_ws, "error")
    assert error["code"] == "not_found" and error["client_id"] == "c-y"
    assert await db(Message.objects.count)() == 1


def _upload_directly(room, user, name, data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from chat import attachments

    return attachments.attachment_create(
        room=room, uploader=user, upload=SimpleUploadedFile(name, data)
    )


# Downloads: access checked on every request


def test_pending_upload_is_its_uploaders_alone(as_user, public_room, alice, bob):
    services.room_join(room=public_room, user=bob)
    attachment = uploaded(as_user(alice), public_room, "a.png", png())
    assert as_user(alice).get(attachment["url"]).status_code == 200
    assert as_user(bob).get(attachment["url"]).status_code == 404
    assert as_user(bob).get(attachment["thumb_url"]).status_code == 404


def test_non_member_cannot_download_another_rooms_file(as_user, private_room, alice, bob, carol):
    attachment = uploaded(as_user(alice), private_room, "plan.png", png())
    send(private_room, alice, [attachment["id"]])
    assert as_user(bob).get(attachment["url"]).status_code == 200
    for url in (attachment["url"], attachment["thumb_url"]):
        assert as_user(carol).get(url).status_code == 404
    assert Client().get(attachment["url"]).status_code == 404  # anonymous


def test_removed_members_old_link_stops_working(as_user, private_room, alice, bob):
    attachment = uploaded(as_user(alice), private_room, "plan.pdf", b"%PDF-1.4 secret")
    send(private_room, alice, [attachment["id"]])
    bob_client = as_user(bob)
    assert bob_client.get(attachment["url"]).status_code == 200
    services.member_remove(room=private_room, actor=alice, username="bob")
    assert bob_client.get(attachment["url"]).status_code == 404


def test_inline_image_is_served_inline_with_its_sniffed_type(as_user, public_room, alice):
    attachment = uploaded(as_user(alice), public_room, "photo.gif", png())
    send(public_room, alice, [attachment["id"]])
    response = as_user(alice).get(attachment["url"])
    assert response["Content-Type"] == "image/png"  # the content's type, not the name's
    assert response["Content-Disposition"] == 'inline; filename="photo.gif"'
    assert response["X-Content-Type-Options"] == "nosniff"


# Deleting


def test_deleting_a_message_deletes_its_files(as_user, public_room, alice, _media):
    attachment = uploaded(as_user(alice), public_room, "a.png", png())
    stored = send(public_room, alice, [attachment["id"]])
    assert len(stored_files(_media)) == 2  # the image and its thumbnail
    services.message_delete(room=public_room, actor=alice, message_id=stored.message.pk)
    assert stored_files(_media) == []
    assert not Attachment.objects.exists()
    assert as_user(alice).get(attachment["url"]).status_code == 404
    frame = json.loads(stored.message.events.order_by("seq").first().text)
    assert frame["message"]["attachments"] == []  # the stored frame is redacted too


def test_refused_delete_keeps_the_files(as_user, public_room, alice, bob, _media):
    services.room_join(room=public_room, user=bob)
    attachment = uploaded(as_user(alice), public_room, "a.txt", b"keep me")
    stored = send(public_room, alice, [attachment["id"]])
    with pytest.raises(Refused):
        services.message_delete(room=public_room, actor=bob, message_id=stored.message.pk)
    assert len(stored_files(_media)) == 1 and Attachment.objects.count() == 1


def test_cleanup_deletes_old_pending_uploads_only(as_user, public_room, alice, _media):
    old = uploaded(as_user(alice), public_room, "old.txt", b"old")
    fresh = uploaded(as_user(alice), public_room, "fresh.txt", b"fresh")
    sent = uploaded(as_user(alice), public_room, "sent.txt", b"sent")
    send(public_room, alice, [sent["id"]])
    long_ago = timezone.now() - timedelta(days=2)
    Attachment.objects.filter(pk__in=[old["id"], sent["id"]]).update(created_at=long_ago)
    out = io.StringIO()
    call_command("attachments_cleanup", stdout=out)
    assert "1" in out.getvalue()
    assert sorted(Attachment.objects.values_list("pk", flat=True)) == [fresh["id"], sent["id"]]
    assert len(stored_files(_media)) == 2


def test_storage_is_s3_when_a_bucket_is_configured(monkeypatch):
    from storages.backends.s3 import S3Storage

    from config import settings as settings_module

    monkeypatch.setattr(settings_module, "AWS_STORAGE_BUCKET_NAME", "relay-files")
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    config = settings_module.default_storage_config()
    assert config["BACKEND"] == "storages.backends.s3.S3Storage"
    assert config["OPTIONS"]["bucket_name"] == "relay-files"
    assert config["OPTIONS"]["endpoint_url"] == "http://127.0.0.1:9000"
    assert config["OPTIONS"]["default_acl"] == "private"
    storage = S3Storage(**config["OPTIONS"])  # builds without a network call
    assert storage.bucket_name == "relay-files" and storage.endpoint_url == "http://127.0.0.1:9000"


def test_default_storage_is_the_file_system(monkeypatch):
    from config import settings as settings_module

    monkeypatch.setattr(settings_module, "AWS_STORAGE_BUCKET_NAME", "")
    config = settings_module.default_storage_config()
    assert config["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert config["OPTIONS"]["location"] == settings_module.MEDIA_ROOT


def test_deleting_a_room_deletes_its_files(as_user, public_room, alice, _media):
    sent = uploaded(as_user(alice), public_room, "a.png", png())
    send(public_room, alice, [sent["id"]])
    uploaded(as_user(alice), public_room, "pending.txt", b"pending")
    assert len(stored_files(_media)) == 3
    public_room.delete()
    assert stored_files(_media) == []


def test_room_page_renders_attachments_escaped(as_user, public_room, alice):
    image = uploaded(as_user(alice), public_room, "<img src=x onerror=alert(1)>.png", png())
    doc = uploaded(as_user(alice), public_room, "a<script>x.txt", b"text")
    send(public_room, alice, [image["id"], doc["id"]])
    html = as_user(alice).get(public_room.get_absolute_url()).content.decode()
    alt = "&lt;img src=x onerror=alert(1)&gt;.png"
    assert f'<img src="/chat/files/{image["id"]}/thumb/" alt="{alt}"' in html
    assert f'href="/chat/files/{doc["id"]}/" download>' in html
    assert '<span class="attachment-name">a&lt;script&gt;x.txt</span>' in html
    assert "<script>x" not in html
    assert "4\xa0bytes" in html  # the card's size


def test_animated_gif_keeps_its_frames_and_loses_its_comment(as_user, public_room, alice):
    frames = [Image.new("RGB", (40, 30), color) for color in ("red", "green", "blue")]
    out = io.BytesIO()
    frames[0].save(
        out,
        "GIF",
        save_all=True,
        append_images=frames[1:],
        duration=80,
        loop=0,
        comment=b"taken at 48.85N 2.29E",
    )
    attachment = uploaded(as_user(alice), public_room, "dance.gif", out.getvalue())
    assert attachment["content_type"] == "image/gif" and attachment["thumb_url"]
    data = content(as_user(alice).get(attachment["url"]))
    stored = Image.open(io.BytesIO(data))
    assert stored.n_frames == 3 and b"48.85N" not in data


def _webp_with_broken_exif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 20)).save(out, "WEBP", exif=b"Exif\x00\x00SECRET-GPS", xmp=b"SECRET-XMP")
    return out.getvalue()


def _png_with_text() -> bytes:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "SECRET-GPS 48.85N")
    return png(pnginfo=info)


@pytest.mark.parametrize("make", [_webp_with_broken_exif, _png_with_text])
def test_metadata_of_other_images_is_dropped(as_user, public_room, alice, make):
    data = make()
    assert b"SECRET" in data
    attachment = uploaded(as_user(alice), public_room, "x.img", data)
    assert attachment["thumb_url"]
    stored = content(as_user(alice).get(attachment["url"]))
    assert b"SECRET" not in stored
