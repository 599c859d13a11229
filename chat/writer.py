"""The room sockets' sends, stored in batches (group commit, realtime.batch).

Every send of a process's sockets goes to one writer. A batch is one
transaction: its rooms are locked first, in id order (so two workers' batches
never wait on each other in a circle), then each send is stored by
`services.message_create` exactly as a lone one would be, in a savepoint of its
own: a send that is refused or fails rolls back alone, and a resend (the same
`client_id`, also twice in one batch) gets the original. The room events and
signals go out after the batch commits; each sender hears after that.

A batch whose transaction fails (the database refusing the commit, a lost
connection) stores nothing: its sends are then stored one by one, each in its
own transaction, so one bad send fails alone and nothing is lost or stored twice.
"""

import logging
from dataclasses import dataclass
from typing import Any

from django.db import DatabaseError, DataError, IntegrityError, transaction

from realtime.batch import Batcher

from . import events, services
from .models import Room

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Send:
    """One socket's `send` frame, as services.message_create takes it."""

    room: Room
    author: Any
    body: Any
    client_id: Any
    reply_to: int | None = None

    def store(self) -> services.MessageStored:
        return services.message_create(
            room=self.room,
            author=self.author,
            body=self.body,
            client_id=self.client_id,
            reply_to=self.reply_to,
        )


Outcome = services.MessageStored | Exception


def store_sends(sends: list[Send]) -> list[Outcome]:
    """Store `sends` in one transaction; each one's stored message or the
    exception that refused it, in order. Their pushes go out together, last."""
    with events.pushed_together():
        return _store_sends(sends)


def _store_sends(sends: list[Send]) -> list[Outcome]:
    try:
        outcomes = _store_together(sends)
    except DatabaseError:
        logger.warning(
            "a batch of %d sends failed; storing them one by one", len(sends), exc_info=True
        )
        return [_store_alone(send) for send in sends]
    # A send the database refused inside the batch (a row another transaction
    # made meanwhile) was rolled back alone: once more on its own.
    return [
        _store_alone(send) if isinstance(outcome, IntegrityError | DataError) else outcome
        for send, outcome in zip(sends, outcomes, strict=True)
    ]


def _store_together(sends: list[Send]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    with transaction.atomic():
        services.rooms_lock(room_ids={send.room.pk for send in sends})
        for send in sends:
            try:
                outcomes.append(send.store())  # its own savepoint
            except (IntegrityError, DataError) as error:
                outcomes.append(error)  # this send's rows are rolled back; the others stay
            except DatabaseError:
                raise  # the transaction itself is in doubt: the whole batch again, alone
            except Exception as error:
                outcomes.append(error)
    return outcomes


def _store_alone(send: Send) -> Outcome:
    try:
        return send.store()
    except Exception as error:
        return error


writer: Batcher[Send, services.MessageStored] = Batcher(store_sends, name="chat-writer")


async def send_message(
    *, room: Room, author: Any, body: Any, client_id: Any, reply_to: int | None = None
) -> services.MessageStored:
    """Store a socket's send with the others waiting (services.message_create's
    outcome: the message, or the original for a resend; raises as it does)."""
    return await writer.submit(Send(room, author, body, client_id, reply_to))
