"""Chat's own Prometheus metrics (realtime.metrics says how they add up across workers)."""

from prometheus_client import Counter

from realtime.metrics import WORKER

messages_stored = Counter("relay_messages_stored", "Chat messages stored", ["worker"])

__all__ = ["WORKER", "messages_stored"]
