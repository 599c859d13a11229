"""The user's own stream (`/ws/notifications/`, the socket every page has) as
shared ground: apps that must not know each other reach a user wherever they
are through it, with this signal and these events.

`user_stream_groups` is sent in a database thread when the stream opens, is
told its groups changed, or resyncs; kwargs: user. Each receiver returns the
channel-layer groups the stream joins besides its own (chat: a room's activity,
for each room of the user's). Only groups of what the user may read: the stream
forwards their frames without looking.

Events in those groups:

    {"type": "stream.frame", "group": <the group>, "text": <a frame, encoded once>}
        forwarded as is;
    {"type": "stream.revoked", "group": ..., "user_id": N}, or with "keep":
    [sorted user ids] instead of "user_id"
        the streams of that user, or of everyone not kept, leave the group at
        once (in order with the group's frames: none after it is forwarded).

And in `realtime.groups.user_group(user_id)`:

    {"type": "stream.groups_changed"}
        the user's streams ask the signal again (a membership added or removed).
"""

from django.dispatch import Signal

user_stream_groups = Signal()

FRAME = "stream.frame"
REVOKED = "stream.revoked"
GROUPS_CHANGED = "stream.groups_changed"
