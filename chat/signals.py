"""Signals other apps may listen to without chat knowing them."""

from django.dispatch import Signal

# Sent after the transaction that stored a new message commits; kwargs: message.
message_posted = Signal()

# Sent after the transaction that stored an edit commits; kwargs: message (edited).
message_edited = Signal()

# Sent after the transaction that deleted a message commits; kwargs: message
# (its body gone): whatever other apps copied of it should go too.
message_deleted = Signal()

# Sent to ask which of some users keep how far they have read to themselves
# (never shown in "Seen by"); kwargs: user_ids. Each receiver returns a set of
# those ids.
read_positions_hidden = Signal()

# Sent after the transaction that stored a new reaction commits; kwargs:
# message (reacted to), user (who reacted), emoji.
reaction_added = Signal()

# Sent after a member's read mark moved forward (after commit); kwargs: room,
# user, seq (the messages up to it are read).
room_read = Signal()

# Sent to ask whether one of two users blocks the other (then neither may open
# or write in a direct conversation with the other); kwargs: user_id, other_id.
# Each receiver returns a bool.
blocked_between = Signal()
