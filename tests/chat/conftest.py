import pytest

from chat import services
from chat.models import Room


@pytest.fixture
def public_room(alice):
    return services.room_create(name="General", created_by=alice)


@pytest.fixture
def private_room(alice, bob):
    room = services.room_create(name="Secret plans", created_by=alice, private=True)
    services.member_add(room=room, actor=alice, username=bob.username)
    return Room.objects.get(pk=room.pk)
