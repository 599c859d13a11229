"""Signals other apps may listen to without chat knowing them."""

from django.dispatch import Signal

# Sent after the transaction that stored a new message commits; kwargs: message.
message_posted = Signal()
