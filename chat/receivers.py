"""Close sockets when access ends by any path: the chat's own services, the
admin, a shell, bulk and cascading deletes. The events go out after commit.
And keep the room lists live: a user's own stream follows their rooms'
activity, whichever path changes their memberships."""

from django.db.models.signals import post_delete, post_save

from realtime.userstream import user_stream_groups

from . import attachments, events, selectors
from .models import Attachment, Membership, Message, Room
from .signals import message_posted


def on_membership_deleted(sender, instance: Membership, **kwargs) -> None:
    # Django sends post_delete per row, for queryset.delete() and cascades too,
    # whenever a receiver is connected.
    events.access_revoked(room_id=instance.room_id, user_id=instance.user_id)
    events.activity_revoked(room_id=instance.room_id, user_id=instance.user_id)
    events.rooms_changed(user_id=instance.user_id)


def on_membership_saved(
    sender, instance: Membership, created=False, raw=False, update_fields=None, **kwargs
) -> None:
    """A membership given to someone else (the admin's inline lets its user be
    changed): only the room's members keep their sockets. A new membership: its
    user's room list follows the room."""
    if raw:
        return
    if created:
        events.rooms_changed(user_id=instance.user_id)
        return
    if update_fields is not None and not {"user", "room"} & set(update_fields):
        return
    events.members_only(room_id=instance.room_id)
    events.activity_members_only(room_id=instance.room_id)
    events.rooms_changed(user_id=instance.user_id)


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


def on_direct_room_created(sender, instance: Room, created=False, raw=False, **kwargs) -> None:
    """A direct room's two memberships are made in bulk, without signals: its
    people's room lists follow it once the transaction commits."""
    if not created or raw or instance.kind != Room.Kind.DIRECT:
        return
    for user_id in (instance.direct_low_id, instance.direct_high_id):
        if user_id is not None:
            events.rooms_changed(user_id=user_id)


def on_message_posted(sender, message: Message, **kwargs) -> None:
    events.room_activity(message)


def on_attachment_deleted(sender, instance: Attachment, **kwargs) -> None:
    """An attachment's files go with its row, by any path (a deleted message, a
    cleanup, a room or user deleted in the admin), once the deletion commits."""
    attachments.delete_files_on_commit(instance)


def stream_groups(sender, user, **kwargs) -> list[str]:
    """The groups a user's own stream joins: their read marks, and the activity
    of their rooms (members only: every such room is one they can read)."""
    room_ids = selectors.activity_room_ids(user=user)
    return [events.reader_group(user.pk)] + [events.activity_group(pk) for pk in room_ids]


def connect() -> None:
    post_delete.connect(
        on_membership_deleted, sender=Membership, dispatch_uid="chat.on_membership_deleted"
    )
    post_save.connect(
        on_membership_saved, sender=Membership, dispatch_uid="chat.on_membership_saved"
    )
    post_save.connect(on_room_saved, sender=Room, dispatch_uid="chat.on_room_saved")
    post_delete.connect(on_room_deleted, sender=Room, dispatch_uid="chat.on_room_deleted")
    post_save.connect(
        on_direct_room_created, sender=Room, dispatch_uid="chat.on_direct_room_created"
    )
    post_delete.connect(
        on_attachment_deleted, sender=Attachment, dispatch_uid="chat.on_attachment_deleted"
    )
    message_posted.connect(on_message_posted, dispatch_uid="chat.on_message_posted")
    user_stream_groups.connect(stream_groups, dispatch_uid="chat.stream_groups")
