"""Signals of this app for the delivery channels beyond the open tab (email,
Web Push): each connects a receiver in its own module (NotificationsConfig.ready)."""

from django.dispatch import Signal

# Sent (robustly) after the transaction that stored notifications commits, once
# per stored batch; kwargs: notifications (Sequence[Notification]; a broadcast's
# are built as they are read, so keep those you need) and kinds (frozenset[str],
# the kinds among them: a receiver that wants none of them returns without
# reading 10,000 rows). A grouped notification that grew is stored anew and
# sent here too (its `replaces` set).
notifications_stored = Signal()
