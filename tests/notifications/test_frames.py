"""A socket's `notification` frame, written out by hand for speed, is the JSON
the contract's encoder would write."""

import json
from datetime import UTC, datetime

import pytest

from notifications.frames import content_text, notification_frame_text
from realtime.wire import dumps


def encoded(*, notification_id: int, read: bool, content: str, unread: int) -> str:
    """The frame as `wire.dumps` writes it: the fields in the contract's order."""
    notification = {"id": notification_id, "read": read, **json.loads(content)}
    return dumps({"type": "notification", "unread": unread, "notification": notification})


CONTENTS = [
    "{}",
    content_text(
        title="Hello",
        body="",
        level="info",
        url="",
        created_at=datetime(2026, 12, 2, 15, 0, tzinfo=UTC),
        kind="broadcast",
    ),
    content_text(
        title='Quotes " and \\ backslashes, </script> and ünïcödé 🎉',
        body="line one\nline two\u2028",
        level="warning",
        url="/chat/r/general/?a=1&b=2",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        kind="mention",
        count=3,
        replaces=41,
    ),
]


@pytest.mark.parametrize("content", CONTENTS)
@pytest.mark.parametrize("read", [False, True])
@pytest.mark.parametrize(("notification_id", "unread"), [(1, 0), (9_007_199_254_740_993, 12_345)])
def test_the_written_frame_is_the_encoded_frame(content, read, notification_id, unread):
    text = notification_frame_text(
        notification_id=notification_id, read=read, content=content, unread=unread
    )
    assert text == encoded(
        notification_id=notification_id, read=read, content=content, unread=unread
    )
    assert json.loads(text)["notification"]["id"] == notification_id
