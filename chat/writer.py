"""The room sockets' sends, stored in batches (group commit, realtime.batch).

Every send of a process's sockets goes to one writer. A batch is one
transaction (services.messages_create): its rooms are locked first, in id order
(two workers' batches never wait on each other in a circle), every send is
checked as message_create checks a lone one, and the new rows are inserted in
bulk with consecutive seqs. A resend (the same `client_id`, also twice in one
batch) gets the original; a refused send stores nothing and leaves no gap. The
room events and signals go out after the batch commits, together; each sender
hears after that. While sends come steadily (each within CHAT_SEND_LINGER_MS
of the worker's previous one), a batch gathers the sends that arrive until
CHAT_SEND_LINGER_MS after its first one's arrival (realtime.batch: a batch
costs far more CPU than the sends in it); a send after a quiet spell is stored
at once.

A batch whose transaction fails (a row the database refuses, a lost
connection) stores nothing: its sends are then stored one by one, each by
services.message_create in its own transaction, so one bad send fails alone and
nothing is lost or stored twice.
"""

import asyncio
import logging
from typing import Any

from django.conf import settings

from realtime.batch import Batcher

from . import events, services
from .models import Room

logger = logging.getLogger(__name__)

Send = services.NewMessage
Outcome = services.MessageStored | Exception


def store_sends(sends: list[Send]) -> list[Outcome]:
    """Store `sends` in one transaction; each one's outcome (the stored message,
    the original of a resend, or the exception that refused it), in order.
    Their pushes go out together, after the commit."""
    with events.pushed_together():
        try:
            return services.messages_create(sends)  # one transaction
        except Exception:
            if len(sends) == 1:
                return [_store_alone(sends[0])]
            logger.warning(
                "a batch of %d sends failed; storing them one by one", len(sends), exc_info=True
            )
        return [_store_alone(send) for send in sends]


def _store_alone(send: Send) -> Outcome:
    try:
        return services.message_create(
            room=send.room,
            author=send.author,
            body=send.body,
            client_id=send.client_id,
            reply_to=send.reply_to,
            attachment_ids=send.attachment_ids,
        )
    except Exception as error:
        return error


writer: Batcher[Send, services.MessageStored] = Batcher(
    store_sends,
    name="chat-writer",
    linger=max(settings.CHAT_SEND_LINGER_MS, 0) / 1000,
    holding=events.pushes_held,
)


def queue_message(
    *,
    room: Room,
    author: Any,
    body: Any,
    client_id: Any,
    reply_to: int | None = None,
    attachment_ids: Any = None,
) -> "asyncio.Future[services.MessageStored]":
    """Queue a socket's send behind the others waiting, without waiting for it
    (its socket reads the next frame meanwhile). The future has
    services.message_create's outcome: the message, or the original for a
    resend; or the exception it raises."""
    return writer.enqueue(Send(room, author, body, client_id, reply_to, attachment_ids))
