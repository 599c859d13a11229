from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from chat import services
from chat.models import Membership, Room

DEMO_PASSWORD = "demo-pass-123"  # noqa: S105 - printed for the demo; DEBUG only
DEMO_USERS = [("alice", False), ("bob", False), ("carol", False), ("admin", True)]


class Command(BaseCommand):
    help = "Create demo users and a demo room (development only)."

    @transaction.atomic
    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("Demo accounts are created only with DJANGO_DEBUG=1.")
        User = get_user_model()
        users = {}
        for username, staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_staff": staff, "is_superuser": staff}
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            users[username] = user
        room = Room.objects.filter(slug="general").first()
        if room is None:
            room = services.room_create(name="General", created_by=users["admin"])
            services.message_create(
                room=room,
                author=users["admin"],
                body="Welcome! Open this room in a second browser as another user and say hi.",
                client_id="seed-welcome",
            )
        for user in users.values():
            Membership.objects.get_or_create(room=room, user=user)
        names = ", ".join(name for name, _ in DEMO_USERS)
        self.stdout.write(
            f"Demo users: {names} (password: {DEMO_PASSWORD}); room: /chat/{room.slug}/"
        )
