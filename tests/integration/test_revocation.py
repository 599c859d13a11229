"""Access removed outside the app's views (the ORM in a shell process) closes the
member's socket on whichever worker holds it, through the channel layer."""

import asyncio

import pytest

from harness.checks import wait_until

pytestmark = pytest.mark.integration

REMOVE_MEMBER = """
from chat.models import Membership
deleted, _ = Membership.objects.filter(
    room__slug=args['slug'], user__username=args['username']
).delete()
print(json.dumps(deleted))
"""


async def test_membership_deleted_through_the_orm_closes_the_socket_on_the_other_worker(
    stack, workers, sessions, clients
):
    a, b = workers
    alice = sessions["alice"]
    slug = await asyncio.to_thread(alice.create_room, "revoked across workers", private=True)
    added = await asyncio.to_thread(
        alice.post_form, f"/chat/{slug}/members/add/", {"username": "bob"}, page=f"/chat/{slug}/"
    )
    assert added.status == 302, added.body[:500]
    owner = await clients.room("alice", slug, a, fallback=False)
    bob = await clients.room("bob", slug, b, fallback=False)

    # Neither worker runs the delete: only the event through Redis can reach B.
    deleted = await asyncio.to_thread(stack.shell, REMOVE_MEMBER, slug=slug, username="bob")
    assert deleted == 1

    await wait_until(lambda: bool(bob.closes), 10, "bob's socket on B closed")
    assert (bob.closes[0].code, bob.closes[0].url) == (4403, b.url)
    assert bob.connections == 1  # 4403 is final: no way back in
    await owner.send("still here")
    await owner.wait_acked(10)
    assert not owner.closes
