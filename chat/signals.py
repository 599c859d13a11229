"""Signals other apps may listen to without chat knowing them."""

from django.dispatch import Signal

# Sent after the transaction that stored a new message commits; kwargs: message.
message_posted = Signal()

# Sent after the transaction that stored an edit commits; kwargs: message (edited).
message_edited = Signal()

# Sent after the transaction that deleted a message commits; kwargs: message
# (its body gone): whatever other apps copied of it should go too.
message_deleted = Signal()

# Sent after the transaction that stored a new reaction commits; kwargs:
# message (reacted to), user (who reacted), emoji.
reaction_added = Signal()

# Sent after a member's read mark moved forward (after commit); kwargs: room,
# user, seq (the messages up to it are read).
room_read = Signal()
