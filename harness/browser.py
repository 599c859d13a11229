"""What the browser tests share: selectors of the room page, the checks every
page test ends with, and storing messages as another worker would."""

import json

RECONNECT_TIMEOUT_MS = 45_000
MESSAGE_BODIES = "#messages li.message:not(.pending) .body"
MESSAGE_AUTHORS = "#messages li.message:not(.pending) .author"


def say(user, text: str) -> None:
    """Type `text` into the composer and press Enter."""
    box = user.page.locator("#composer-body")
    box.fill(text)
    box.press("Enter")


def message_with(user, text: str):
    """The confirmed message on `user`'s page whose body has `text`."""
    return user.page.locator(
        "#messages li.message:not(.pending)", has=user.page.locator(".body", has_text=text)
    )


def shown(user) -> list[tuple[int, str, str]]:
    """Return (seq, author, body) of every confirmed message on the page, in page order."""
    return [
        (int(seq), author, body)
        for seq, author, body in user.page.eval_on_selector_all(
            "#messages li.message:not(.pending)",
            "items => items.map(li => [li.dataset.seq, li.querySelector('.author').textContent,"
            " li.querySelector('.body').textContent])",
        )
    ]


def assert_in_order_without_duplicates(user) -> None:
    seqs = [seq for seq, _, _ in shown(user)]
    assert seqs == sorted(set(seqs)), seqs


def assert_nothing_went_wrong(*users) -> None:
    for user in users:
        assert user.errors == [], user.errors
        assert user.dialogs == [], user.dialogs


def count_messages(stack, slug: str, body: str) -> int:
    return stack.shell(
        "from chat.models import Message\n"
        "print(Message.objects.filter(room__slug=args['slug'], body=args['body']).count())",
        slug=slug,
        body=body,
    )


def post_messages(stack, slug: str, author: str, bodies: list[str]) -> None:
    """Store messages straight through the service, as another worker would."""
    stack.shell(
        "from django.contrib.auth import get_user_model\n"
        "from chat import services\n"
        "from chat.models import Room\n"
        "room = Room.objects.get(slug=args['slug'])\n"
        "author = get_user_model().objects.get(username=args['author'])\n"
        "import uuid\n"
        "batch = uuid.uuid4().hex[:8]\n"  # each call's client_ids are its own
        "for n, body in enumerate(args['bodies']):\n"
        "    services.message_create(room=room, author=author, body=body,"
        " client_id=f\"{args['slug'][:30]}-{batch}-{n}\")\n"
        "print(json.dumps(len(args['bodies'])))",
        slug=slug,
        author=author,
        bodies=bodies,
    )


def mark_all_read(stack, slug: str, username: str) -> None:
    """Set `username`'s read position to the room's latest message (the page then
    pages back only when asked: it loads older pages by itself to reach the
    first unread message)."""
    stack.shell(
        "from chat.models import Membership, Room\n"
        "room = Room.objects.get(slug=args['slug'])\n"
        "Membership.objects.filter(room=room, user__username=args['username'])"
        ".update(last_read_seq=room.last_seq)\n"
        "print(json.dumps(room.last_seq))",
        slug=slug,
        username=username,
    )


def frames_of_type(frames: list[tuple[str, str]], frame_type: str) -> list[dict]:
    parsed = (json.loads(text) for _, text in frames if isinstance(text, str))
    return [frame for frame in parsed if frame.get("type") == frame_type]
