from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError

from notifications import services
from notifications.validation import LEVELS
from realtime.errors import Refused


class Command(BaseCommand):
    help = (
        "Send a notification to every active user (--all), the members of groups "
        "(--group, repeatable) or some users (--user, repeatable); it is recorded as a Broadcast."
    )

    def add_arguments(self, parser) -> None:
        audience = parser.add_mutually_exclusive_group(required=True)
        audience.add_argument("--all", action="store_true", help="every active user")
        audience.add_argument(
            "--group", action="append", metavar="NAME", help="members of this group"
        )
        audience.add_argument("--user", action="append", metavar="USERNAME", help="this user")
        parser.add_argument("--title", required=True)
        parser.add_argument("--body", default="")
        parser.add_argument("--level", default="info", choices=LEVELS)
        parser.add_argument("--url", default="", help="a path on this site, like /chat/general/")

    def handle(self, *args, **options) -> None:
        if options["all"]:
            audience = None
        elif options["group"]:
            audience = self._named(Group.objects, "name", options["group"], "group")
        else:
            audience = self._named(get_user_model().objects, "username", options["user"], "user")
        try:
            record = services.broadcast(
                title=options["title"],
                body=options["body"],
                level=options["level"],
                url=options["url"],
                audience=audience,
            )
        except Refused as error:
            raise CommandError(error.detail) from None
        self.stdout.write(f"Sent to {record.recipient_count} users (broadcast {record.pk}).")

    def _named(self, manager, field: str, names: list[str], what: str) -> list:
        found = {getattr(obj, field): obj for obj in manager.filter(**{f"{field}__in": names})}
        missing = [name for name in names if name not in found]
        if missing:
            raise CommandError(f"No {what} called {', '.join(map(repr, missing))}.")
        return list(found.values())
