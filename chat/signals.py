"""Signals other apps may listen to without chat knowing them."""

from django.dispatch import Signal

# Sent after the transaction that stored a new message commits; kwargs: message.
message_posted = Signal()

# Sent after the transaction that stored an edit commits; kwargs: message (edited).
message_edited = Signal()

# Sent after the transaction that deleted a message commits; kwargs: message
# (its body gone): whatever other apps copied of it should go too.
message_deleted = Signal()
