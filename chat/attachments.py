"""Files attached to messages: sniffing, validation, images, storage.

An upload becomes a pending `Attachment` owned by its uploader in one room;
`message_create` binds pending attachments to the new message in its own
transaction (`bind`). The type is sniffed from the content (the pinned
`filetype` package reads the magic numbers), never taken from the name or the
browser's header. Only the raster images of INLINE_TYPES are ever shown inline,
and only after Pillow decoded them: their original is stored re-encoded without
EXIF or XMP (a phone photo's GPS position), turned upright first, and a bounded
thumbnail is made beside it. Everything else is stored as sent and always
downloaded (`Content-Disposition: attachment`, `application/octet-stream`).

Files go through Django's storage API (`STORAGES["default"]`): the file system,
or any S3-compatible store through django-storages. Nothing here makes a public
URL: every download goes through `chat.views.attachment_download`, which asks
`chat.selectors.attachment_for_reader` each time.
"""

import io
import logging
import secrets
import unicodedata
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import filetype
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from PIL import Image, ImageOps, UnidentifiedImageError

from realtime.errors import Refused

from .models import Attachment, Room

if TYPE_CHECKING:
    from django.core.files.uploadedfile import UploadedFile

logger = logging.getLogger(__name__)

# Raster images browsers decode safely, shown inline after Pillow decoded them.
# SVG is not here on purpose: it is a document that can run scripts.
INLINE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
UNKNOWN_TYPE = "application/octet-stream"
# Bytes read to sniff a type (filetype looks at the first 8 KiB at most).
SNIFF_BYTES = 8192
NAME_MAX = 200
THUMB_FORMAT, THUMB_TYPE = "WEBP", "image/webp"
# An animated image has at most this many frames re-encoded.
FRAMES_MAX = 500


def sniff(head: bytes) -> str:
    """Return the MIME type the content's own bytes name, or UNKNOWN_TYPE."""
    kind = filetype.guess(head[:SNIFF_BYTES])
    return kind.mime if kind is not None else UNKNOWN_TYPE


def clean_name(name: Any) -> str:
    """Return a file name safe to store and show: its last path part, without
    control characters, at most NAME_MAX characters, never empty."""
    name = name if isinstance(name, str) else ""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C"
    )
    name = name.strip().strip(".") or "file"
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and len(ext) <= 16 else ""
        name = (stem if ext else name)[: NAME_MAX - len(ext) - 1].rstrip() + (
            "." + ext if ext else ""
        )
    return name


def max_bytes_text() -> str:
    return f"{settings.CHAT_MAX_UPLOAD_BYTES / (1024 * 1024):g} MB"


@dataclass(frozen=True)
class ProcessedImage:
    """An image made safe to show: its content re-encoded without metadata, a thumbnail."""

    content: bytes
    thumb: bytes
    width: int
    height: int


def _refuse_bomb() -> Refused:
    return Refused(
        _("This image is too large to process (over %(pixels)s million pixels).")
        % {"pixels": f"{settings.CHAT_MAX_IMAGE_PIXELS / 1_000_000:g}"},
        code="too_large",
    )


def process_image(data: bytes, fmt: str) -> ProcessedImage:
    """Decode an image of a sniffed inline type; return it re-encoded without EXIF
    (orientation applied first) and a thumbnail. Raise Refused for what does not
    decode, or would take more than CHAT_MAX_IMAGE_PIXELS to decode (a
    decompression bomb: a few KB of file that unpack to gigabytes)."""
    limit = settings.CHAT_MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow warns from MAX_IMAGE_PIXELS and refuses at twice that; its
            # limit is process-wide, so ours is checked here, before decoding.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as image:
                frames = getattr(image, "n_frames", 1)
                width, height = image.size
                if width * height > limit or width * height * min(frames, FRAMES_MAX) > limit * 4:
                    raise _refuse_bomb()
                if frames > FRAMES_MAX:
                    raise Refused(_("This animation has too many frames."), code="too_large")
                image.load()
                return _reencode(image, fmt, frames)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refuse_bomb() from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        if isinstance(error, Refused):
            raise
        raise Refused(_("This image could not be read.")) from None


def _reencode(image: Image.Image, fmt: str, frames: int) -> ProcessedImage:
    upright = _upright(image) if frames == 1 else image
    out = io.BytesIO()
    options: dict[str, Any] = {"format": fmt}
    if image.info.get("icc_profile"):
        options["icc_profile"] = image.info["icc_profile"]
    if frames > 1:
        # Each frame again, with its timing; no EXIF, XMP or comments come along.
        options.update(save_all=True, loop=image.info.get("loop", 0))
        if "duration" in image.info:
            options["duration"] = image.info["duration"]
    if fmt == "JPEG":
        options.update(quality=90, exif=b"")
        upright = upright.convert("RGB") if upright.mode not in ("RGB", "L", "CMYK") else upright
    elif fmt == "WEBP":
        options.update(quality=90, exif=b"", xmp=b"")
    elif fmt == "GIF":
        # Pillow carries a GIF's own info (its comment among it) into the save.
        options.update(comment=b"")
    upright.save(out, **options)
    width, height = upright.size

    thumb = upright.copy() if frames == 1 else _first_frame(image)
    size = settings.CHAT_THUMBNAIL_SIZE
    thumb.thumbnail((size, size))
    if thumb.mode not in ("RGB", "RGBA"):
        thumb = thumb.convert(
            "RGBA" if "A" in thumb.getbands() or "transparency" in thumb.info else "RGB"
        )
    thumb_out = io.BytesIO()
    thumb.save(thumb_out, format=THUMB_FORMAT, quality=80)
    return ProcessedImage(out.getvalue(), thumb_out.getvalue(), width, height)


def _upright(image: Image.Image) -> Image.Image:
    """Return the image turned as its EXIF orientation says; as it is when its
    EXIF can't be read (the EXIF is dropped either way)."""
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # any malformed EXIF: Pillow raises several kinds
        logger.info("unreadable EXIF in an uploaded image; kept as it is")
        return image


def _first_frame(image: Image.Image) -> Image.Image:
    image.seek(0)
    return image.copy()


def _storage_name(kind: str) -> str:
    """A storage key nobody can guess or read meaning into (no user, room or name)."""
    now = timezone.now()
    return f"attachments/{now:%Y/%m}/{secrets.token_hex(16)}{kind}"


def read_upload(upload: "UploadedFile") -> bytes:
    """Return the upload's bytes, refusing more than CHAT_MAX_UPLOAD_BYTES."""
    limit = settings.CHAT_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise Refused(
            _("A file is at most %(size)s.") % {"size": max_bytes_text()}, code="too_large"
        )
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise Refused(
            _("A file is at most %(size)s.") % {"size": max_bytes_text()}, code="too_large"
        )
    if not data:
        raise Refused(_("The file is empty."))
    return data


def attachment_create(*, room: Room, uploader: Any, upload: "UploadedFile") -> Attachment:
    """Store an upload as a pending attachment of `uploader` in `room`.

    The caller checked that the uploader may read the room. Refused for an
    empty, oversized or undecodable file; nothing is stored then."""
    data = read_upload(upload)
    content_type = sniff(data)
    name = clean_name(upload.name)
    processed = None
    if content_type in INLINE_TYPES:
        processed = process_image(data, INLINE_TYPES[content_type])
        data = processed.content
    file_name = default_storage.save(_storage_name(""), ContentFile(data))
    thumb_name = ""
    try:
        if processed is not None:
            thumb_name = default_storage.save(_storage_name("-thumb"), ContentFile(processed.thumb))
        with transaction.atomic():
            return Attachment.objects.create(
                room=room,
                uploader=uploader,
                file=file_name,
                thumb=thumb_name,
                name=name,
                size=len(data),
                content_type=content_type,
                width=processed.width if processed else None,
                height=processed.height if processed else None,
            )
    except BaseException:
        delete_files([file_name, thumb_name])
        raise


def pending_count(*, uploader: Any) -> int:
    return Attachment.objects.filter(uploader=uploader, message__isnull=True).count()


def validate_ids(value: Any) -> list[int]:
    """Return a send's `attachment_ids` (absent: none), or raise Refused."""
    if value is None:
        return []
    limit = settings.CHAT_MAX_ATTACHMENTS
    if not isinstance(value, list) or not all(
        isinstance(item, int) and not isinstance(item, bool) and 1 <= item < 2**63 for item in value
    ):
        raise Refused(_("attachment_ids must be a list of attachment ids."))
    if len(set(value)) != len(value):
        raise Refused(_("attachment_ids names an attachment twice."))
    if len(value) > limit:
        raise Refused(
            ngettext(
                "A message has at most %(count)d attachment.",
                "A message has at most %(count)d attachments.",
                limit,
            )
            % {"count": limit}
        )
    return value


def bind(*, message: Any, author: Any, room: Room, ids: list[int]) -> None:
    """Attach the author's pending uploads in `room` to their new message, inside
    message_create's transaction; raise Refused (nothing bound) unless every id is one."""
    if not ids:
        return
    pending = {
        attachment.pk: attachment
        for attachment in Attachment.objects.select_for_update().filter(
            pk__in=ids, message__isnull=True
        )
    }
    check_pending(pending, ids=ids, author=author, room=room)
    Attachment.objects.filter(pk__in=ids).update(message=message)


def pending_locked(ids: Iterable[int]) -> dict[int, Attachment]:
    """The unsent uploads among `ids`, locked for the transaction, by id (a
    batch of sends reads them once: chat.services.messages_create)."""
    ids = set(ids)
    if not ids:
        return {}
    found = Attachment.objects.select_for_update().filter(pk__in=ids, message__isnull=True)
    return {attachment.pk: attachment for attachment in found}


def check_pending(
    pending: dict[int, Attachment], *, ids: list[int], author: Any, room: Room
) -> list[Attachment]:
    """Return the attachments `ids` names, or raise Refused unless each is one
    of `pending` (unsent) that `author` uploaded to `room`."""
    chosen = [pending.get(pk) for pk in ids]
    if any(a is None or a.uploader_id != author.pk or a.room_id != room.pk for a in chosen):
        raise Refused(
            _("An attachment is not one of your uploads to this room, or was sent already."),
            code="not_found",
        )
    return [a for a in chosen if a is not None]


def delete_files(names: Iterable[str]) -> None:
    """Delete stored files; a failure is logged (the cleanup command finds none left)."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception:
            logger.exception("could not delete an attachment's file")


def delete_files_on_commit(attachment: Attachment) -> None:
    """Delete an attachment's files once the transaction that deleted its row commits."""
    names = [attachment.file.name, attachment.thumb.name]
    transaction.on_commit(lambda: delete_files(names))


def cleanup_pending(*, older_than: timedelta | None = None) -> int:
    """Delete pending uploads never sent within CHAT_UPLOAD_PENDING_HOURS; return how many."""
    if older_than is None:
        older_than = timedelta(hours=settings.CHAT_UPLOAD_PENDING_HOURS)
    stale = Attachment.objects.filter(
        message__isnull=True, created_at__lt=timezone.now() - older_than
    )
    deleted = 0
    for attachment in stale.iterator():
        with transaction.atomic():
            # Skip one a send bound meanwhile.
            if Attachment.objects.filter(pk=attachment.pk, message__isnull=True).delete()[0]:
                deleted += 1
    return deleted


def attachment_dict(attachment: Attachment) -> dict[str, Any]:
    """The wire shape of an attachment (docs/protocol.md)."""
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "url": reverse("chat:attachment_download", kwargs={"attachment_id": attachment.pk}),
        "thumb_url": (
            reverse("chat:attachment_thumb", kwargs={"attachment_id": attachment.pk})
            if attachment.thumb
            else None
        ),
        "width": attachment.width,
        "height": attachment.height,
    }


def is_inline(attachment: Attachment) -> bool:
    return attachment.content_type in INLINE_TYPES
