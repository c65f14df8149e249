"""Print a new API key for an organization (for scripts and demos)."""

from django.core.management.base import BaseCommand, CommandError

from incidentio.common.errors import ServiceError
from orgs.models import ApiKeyRole, Organization
from orgs.services import api_key_create


class Command(BaseCommand):
    help = "Create an API key and print its token (shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="The organization's slug.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--role", action="append", required=True, choices=ApiKeyRole.values, dest="roles")

    def handle(self, *args, org, name, roles, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug “{org}”.")
        try:
            _key, token = api_key_create(org=organization, name=name, roles=roles, created_by=None)
        except ServiceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(token)
