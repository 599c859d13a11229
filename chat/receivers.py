"""Close sockets when access ends by any path: the chat's own services, the
admin, a shell, bulk and cascading deletes. The events go out after commit."""

from django.db.models.signals import post_delete, post_save

from . import events
from .models import Membership, Room


def on_membership_deleted(sender, instance: Membership, **kwargs) -> None:
    # Django sends post_delete per row, for queryset.delete() and cascades too,
    # whenever a receiver is connected.
    events.access_revoked(room_id=instance.room_id, user_id=instance.user_id)


def on_membership_saved(
    sender, instance: Membership, created=False, raw=False, update_fields=None, **kwargs
) -> None:
    """A membership given to someone else (the admin's inline lets its user be
    changed): only the room's members keep their sockets."""
    if created or raw:
        return
    if update_fields is not None and not {"user", "room"} & set(update_fields):
        return
    events.members_only(room_id=instance.room_id)


def on_room_saved(sender, instance: Room, created=False, raw=False, update_fields=None, **kwargs):
    """A room that is not public after a save that may have changed its kind: only
    its members keep their sockets. Whatever the kind was before, nobody else can
    have one open in an already private room, so the old kind needs no read."""
    if created or raw or instance.is_public:
        return
    if update_fields is not None and "kind" not in update_fields:
        return  # a new message's last_seq
    events.members_only(room_id=instance.pk)


def on_room_deleted(sender, instance: Room, **kwargs) -> None:
    events.room_deleted(room_id=instance.pk)


def connect() -> None:
    post_delete.connect(
        on_membership_deleted, sender=Membership, dispatch_uid="chat.on_membership_deleted"
    )
    post_save.connect(
        on_membership_saved, sender=Membership, dispatch_uid="chat.on_membership_saved"
    )
    post_save.connect(on_room_saved, sender=Room, dispatch_uid="chat.on_room_saved")
    post_delete.connect(on_room_deleted, sender=Room, dispatch_uid="chat.on_room_deleted")
