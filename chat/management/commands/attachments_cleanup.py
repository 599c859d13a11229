from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from chat import attachments


class Command(BaseCommand):
    help = (
        "Delete uploads never sent with a message within CHAT_UPLOAD_PENDING_HOURS "
        "(run it from cron, hourly or daily)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--hours",
            type=int,
            default=settings.CHAT_UPLOAD_PENDING_HOURS,
            help="Age in hours from which a pending upload is deleted.",
        )

    def handle(self, *args, **options):
        deleted = attachments.cleanup_pending(older_than=timedelta(hours=options["hours"]))
        self.stdout.write(f"Deleted {deleted} pending upload(s).")
