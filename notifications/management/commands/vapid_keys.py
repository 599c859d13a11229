from django.core.management.base import BaseCommand
from py_vapid import Vapid

from notifications.webpush import b64url, public_key_of


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair for Web Push as environment lines "
        "(WEBPUSH_VAPID_PUBLIC_KEY, WEBPUSH_VAPID_PRIVATE_KEY). Changing the pair "
        "ends every stored subscription: browsers must subscribe again."
    )

    def handle(self, *args, **options) -> None:
        signer = Vapid()
        signer.generate_keys()
        private = signer.private_key.private_numbers().private_value.to_bytes(32, "big")
        self.stdout.write(f"WEBPUSH_VAPID_PUBLIC_KEY={public_key_of(signer)}")
        self.stdout.write(f"WEBPUSH_VAPID_PRIVATE_KEY={b64url(private)}")
        self.stdout.write(
            "# and WEBPUSH_VAPID_SUBJECT=mailto:<the operator's address> (or an https URL)"
        )
