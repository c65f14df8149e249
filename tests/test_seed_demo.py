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
    from incidentio.incidents.models import Incident, TimelineEvent

    call_command("seed_demo")
    call_command("seed_demo")

    acme = Incident.objects.filter(org__slug="acme")
    assert acme.count() == 7
    assert set(acme.values_list("status__category", flat=True)) == {"live", "triage", "learning", "closed", "declined"}
    assert set(acme.values_list("learning_flow", flat=True)) == {"not_entered", "running", "completed", "opted_out"}
    in_flow = acme.get(learning_flow="running")
    assert in_flow.postmortem.status == "in_review"
    assert in_flow.follow_ups.count() == 2 and in_flow.debriefs.count() == 1
    assert in_flow.learning_tasks.filter(state="completed", completed_automatically=True).exists()
    assert TimelineEvent.objects.filter(incident=in_flow).count() >= 10
    assert acme.get(learning_flow="opted_out").opt_out_reason
    # Two are Security incidents, one of them moved there while live (its timeline says so).
    assert sorted(acme.filter(incident_type__name="Security").values_list("name", flat=True)) == [
        "Elevated login latency", "Status page certificate expiry warning",
    ]
    assert TimelineEvent.objects.get(incident__in=acme, incident__name="Elevated login latency",
                                     kind="type_changed").text == (
        "Type changed from Default to Security"
    )


def test_seed_demo_turns_on_a_weekly_digest_and_the_settings_page_shows_it():
    from learning.models import DigestSchedule

    call_command("seed_demo")

    schedule = DigestSchedule.objects.get(org__slug="acme")
    assert (schedule.enabled, schedule.frequency, schedule.weekday, schedule.hour) == (True, "weekly", 0, 9)
    alice = User.objects.get(email="alice@example.com")
    assert schedule.emails == [alice.email]
    client = Client()
    sign_in(client, alice, "acme", password="incidentio-demo")
    assert "Next digest: <strong>Monday" in client.get("/acme/settings/digests/").content.decode()
