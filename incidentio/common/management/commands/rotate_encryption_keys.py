"""Re-encrypt every stored secret under the first key of FIELD_ENCRYPTION_KEYS.

    python manage.py rotate_encryption_keys

Run it after putting a new key first; once it has run, the old keys can be
dropped (docs/encryption.md). Running it again changes nothing.
"""

from django.core.management.base import BaseCommand, CommandError

from incidentio.common.encryption import DecryptionError, reencrypt_all


class Command(BaseCommand):
    help = "Re-encrypt Slack bot tokens and webhook secrets under the first FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args, **options):
        try:
            changed = reencrypt_all()
        except DecryptionError as exc:
            raise CommandError(f"{exc} Nothing was changed.") from exc
        for field, count in changed.items():
            self.stdout.write(f"{field}: {count} re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"Done: {sum(changed.values())} values re-encrypted."))
