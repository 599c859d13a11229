"""Notifications' own Prometheus metrics (realtime.metrics says how they add up across workers)."""

from prometheus_client import Counter

from realtime.metrics import WORKER

notifications_pushed = Counter(
    "relay_notifications_pushed", "Notification frames written to sockets", ["worker"]
)
broadcast_deliveries = Counter(
    "relay_broadcast_deliveries", "Broadcast notification frames written to sockets", ["worker"]
)
broadcasts_sent = Counter("relay_broadcasts_sent", "Broadcasts sent", ["worker"])

__all__ = ["WORKER", "broadcast_deliveries", "broadcasts_sent", "notifications_pushed"]
