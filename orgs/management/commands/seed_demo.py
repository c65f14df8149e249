"""Seed demo data: two orgs, three people, incidents in several states, and a
year of Acme's incidents before them for the Insights page.

Running it again changes nothing.
"""

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from incidentio.incidents.demo.history import seed_demo_history
from incidentio.incidents.demo.story import seed_demo_incidents
from orgs import services
from orgs.models import Membership, Organization, Role, User

DEMO_PASSWORD = "incidentio-demo"
DEMO_USERS = [
    ("alice@example.com", "Alice Admin"),
    ("bob@example.com", "Bob Owner"),
    ("carol@example.com", "Carol Responder"),
]
DEMO_ORGS = [
    # slug, name, time zone, {email: role}
    ("acme", "Acme Inc.", "Europe/Berlin",
     {"alice@example.com": Role.OWNER, "carol@example.com": Role.RESPONDER}),
    ("globex", "Globex Corporation", "UTC", {"bob@example.com": Role.OWNER, "alice@example.com": Role.ADMIN}),
]
#: The org whose year of incidents fills the Insights page (``seed_demo_history``).
HISTORY_ORG = "acme"


class Command(BaseCommand):
    help = "Create the demo organizations (acme, globex) and people. Idempotent."

    @transaction.atomic
    def handle(self, *args, **options):
        users = {}
        for email, name in DEMO_USERS:
            user, created = User.objects.get_or_create(email=email, defaults={"name": name})
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            users[email] = user
        for slug, name, time_zone, roles in DEMO_ORGS:
            org = Organization.objects.filter(slug=slug).first()
            owner_email = next(e for e, r in roles.items() if r == Role.OWNER)
            if org is None:
                org = services.organization_create(name=name, slug=slug, owner=users[owner_email])
                # Acme works in Berlin: its Insights weeks and months are Berlin's, not UTC's.
                services.working_calendar_update(org=org, time_zone=time_zone, working_days=org.working_days)
            for email, role in roles.items():
                Membership.objects.get_or_create(org=org, user=users[email], defaults={"role": role})
            people = [users[email] for email in roles]
            if seed_demo_incidents(org=org, people=people) and slug == HISTORY_ORG:
                seed_demo_history(org=org, people=people)
        self.stdout.write(self.style.SUCCESS("Demo data ready. Sign in at http://127.0.0.1:8000/"))
        self.stdout.write(f"  alice@example.com / {DEMO_PASSWORD}  (owner of acme, admin of globex)")
        self.stdout.write(f"  bob@example.com   / {DEMO_PASSWORD}  (owner of globex only)")
        self.stdout.write(f"  carol@example.com / {DEMO_PASSWORD}  (responder in acme only)")
