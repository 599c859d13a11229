"""Signals on the ground floor, so that apps that must not know each other can
share what every socket shares."""

from django.dispatch import Signal

# Sent in a database thread when a user's own stream (`/ws/notifications/`, the
# socket every page has) opens, is told its groups changed, or resyncs;
# kwargs: user. Each receiver returns the channel-layer groups the stream joins
# besides its own, whose `stream.frame` events it forwards as they are (chat: a
# room's activity, for each room of the user's). Only groups of what the user
# may read: the stream forwards without looking.
user_stream_groups = Signal()
