import pytest
from django.core.management import call_command
from django.test import Client

from orgs.models import Membership, Organization, User
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_its_people_can_sign_in():
    call_command("seed_demo")
    call_command("seed_demo")

    assert set(Organization.objects.values_list("slug", flat=True)) == {"acme", "globex"}
    assert User.objects.count() == 3
    alice = User.objects.get(email="alice@example.com")
    bob = User.objects.get(email="bob@example.com")
    assert set(Membership.objects.filter(user=alice).values_list("org__slug", flat=True)) == {"acme", "globex"}
    assert set(Membership.objects.filter(user=bob).values_list("org__slug", flat=True)) == {"globex"}

    client = Client()
    sign_in(client, alice, "acme", password="incidentio-demo")
    assert client.get("/acme/").status_code == 200


def test_seed_demo_gives_incidents_in_several_states_with_timelines():
    from incidentio.models import Incident, TimelineEvent

    call_command("seed_demo")
    call_command("seed_demo")

    acme = Incident.objects.filter(org__slug="acme")
    assert acme.count() == 5
    assert set(acme.values_list("status__category", flat=True)) >= {"live", "triage", "closed", "declined"}
    closed = acme.get(status__category="closed")
    assert closed.postmortem.status == "in_review"
    assert closed.follow_ups.count() == 2 and closed.debriefs.count() == 1
    assert TimelineEvent.objects.filter(incident=closed).count() >= 8
