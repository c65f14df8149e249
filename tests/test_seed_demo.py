from collections import Counter
from datetime import timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import F
from django.test import Client, override_settings
from django.utils import timezone

from incidentio.incidents.models import FollowUp, Incident, LearningFlowState
from learning.models import LearningStatusVisit, LearningTask
from orgs.models import Membership, Organization, User
from slackbot.models import OutboxMessage
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

#: The story's incidents are Acme's first seven (docs/api.md's examples name them); the year's come after.
STORY = 7


@pytest.fixture(scope="module", autouse=True)
def seeded(django_db_setup, django_db_blocker):
    """``seed_demo`` once for the module, on the empty test database, in a transaction rolled back
    after the module: seeding the year of history takes seconds. Each test runs in a savepoint of
    its own inside it (pytest-django's), so none sees what another changed."""
    with django_db_blocker.unblock(), transaction.atomic():
        # The suite's fast hashing (tests/conftest.py) is per test; this runs before any test.
        with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
            call_command("seed_demo", stdout=StringIO())
        yield
        transaction.set_rollback(True)


def test_seed_demo_is_idempotent_and_its_people_can_sign_in():
    incidents = Incident.objects.count()
    call_command("seed_demo")

    assert Incident.objects.count() == incidents
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
    from incidentio.incidents.models import TimelineEvent

    acme = Incident.objects.filter(org__slug="acme", number__lte=STORY)
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

    schedule = DigestSchedule.objects.get(org__slug="acme")
    assert (schedule.enabled, schedule.frequency, schedule.weekday, schedule.hour) == (True, "weekly", 0, 9)
    alice = User.objects.get(email="alice@example.com")
    assert schedule.emails == [alice.email]
    client = Client()
    sign_in(client, alice, "acme", password="incidentio-demo")
    assert "Next digest: <strong>Monday" in client.get("/acme/settings/digests/").content.decode()


def test_seed_demo_gives_acme_a_year_of_incidents_for_every_insights_chart():
    """Every chart of the Insights page (docs/insights.md) has data over the default
    range (the last 90 days) and over the last 365 days."""
    acme = Organization.objects.get(slug="acme")
    tz, now = ZoneInfo(acme.time_zone), timezone.now()
    year = Incident.objects.filter(org=acme, reported_at__gte=now - timedelta(days=365))
    quarter = year.filter(reported_at__gte=now - timedelta(days=90))
    assert acme.time_zone == "Europe/Berlin"
    assert 60 <= year.count() <= 120

    # Declared per week, in Acme's weeks, of several severities and types.
    weeks = {incident.reported_at.astimezone(tz).isocalendar()[:2] for incident in quarter}
    assert len(weeks) >= 10
    months = {incident.reported_at.astimezone(tz).strftime("%Y-%m") for incident in year}
    assert len(months) >= 10 and year.order_by("reported_at").first().reported_at < now - timedelta(days=330)
    assert set(quarter.values_list("severity__name", flat=True)) >= {"Minor", "Major", "Critical"}
    assert set(year.values_list("incident_type__name", flat=True)) == {"Default", "Security", "Maintenance"}
    # Response times: minutes to hours, never before the report.
    responded = year.filter(identified_at__isnull=False, fixed_at__isnull=False, resolved_at__isnull=False)
    assert responded.count() >= 30
    assert not responded.filter(identified_at__lt=F("reported_at")).exists()
    assert not responded.filter(fixed_at__lt=F("identified_at")).exists()
    assert not responded.filter(resolved_at__lt=F("fixed_at")).exists()
    spans = sorted((incident.resolved_at - incident.reported_at) for incident in responded)
    assert timedelta(minutes=10) <= spans[len(spans) // 2] <= timedelta(hours=12)

    # Learning flow outcomes, among the incidents closed in the last 90 days.
    closed = Incident.objects.filter(org=acme, status__category="closed", closed_at__gte=now - timedelta(days=90))
    assert set(closed.values_list("learning_flow", flat=True)) == {
        LearningFlowState.COMPLETED, LearningFlowState.OPTED_OUT, LearningFlowState.NOT_ENTERED}
    reasons = Counter(closed.filter(learning_flow=LearningFlowState.OPTED_OUT).values_list("opt_out_reason",
                                                                                             flat=True))
    assert sum(1 for count in reasons.values() if count >= 2) >= 3, reasons
    assert {"No customer impact", "Duplicate of a known issue", "Vendor outage, nothing to learn"} <= set(reasons)
    visits = LearningStatusVisit.objects.filter(incident__in=closed, left_at__isnull=False)
    assert set(visits.values_list("status__name", flat=True)) == {"Documenting", "Reviewing"}
    assert not visits.filter(left_at__lt=F("entered_at")).exists()
    assert set(year.values_list("status__category", flat=True)) >= {"declined", "merged", "learning"}

    # Tasks in every outcome, not-doing reasons that recur, and overdue work that is someone's.
    tasks = LearningTask.objects.filter(incident__in=year, created_at__gte=now - timedelta(days=90))
    outcomes = {(task.state, task.completed_automatically) for task in tasks}
    assert outcomes >= {("completed", False), ("completed", True), ("not_doing", False), ("outstanding", False)}
    assert max(Counter(tasks.filter(state="not_doing").values_list("not_doing_reason", flat=True)).values()) >= 2
    covered = Counter(LearningTask.objects.filter(org=acme, not_doing_reason__startswith="Covered by the INC-")
                      .values_list("not_doing_reason", flat=True))
    assert max(covered.values()) >= 2, covered
    overdue = LearningTask.objects.filter(org=acme, state="outstanding", due_at__lte=now)
    assert overdue.filter(assignee__isnull=False).count() >= 2

    # Follow-ups: made every few weeks, done on time and late, open for days, weeks and months.
    follow_ups = FollowUp.objects.filter(incident__org=acme)
    assert len({f.created_at.astimezone(tz).strftime("%Y-%m") for f in follow_ups}) >= 9
    assert set(follow_ups.values_list("priority", flat=True)) == {"urgent", "high", "medium", "low"}
    done = follow_ups.filter(status="completed", due_at__isnull=False)
    assert done.filter(completed_at__lte=F("due_at")).count() >= 3
    assert done.filter(completed_at__gt=F("due_at")).count() >= 3
    ages = Counter(
        "0-30" if age <= 30 else "31-90" if age <= 90 else "91-"
        for age in ((now - f.created_at).days for f in follow_ups.filter(status="outstanding"))
    )
    assert all(ages[bucket] >= 2 for bucket in ("0-30", "31-90", "91-")), ages

    # The past stays in the past: nothing happened after seeding, and its messages went out then.
    assert not Incident.objects.filter(org=acme, reported_at__gt=now).exists()
    assert not LearningTask.objects.filter(org=acme, addressed_at__gt=now).exists()
    assert not FollowUp.objects.filter(incident__org=acme, completed_at__gt=now).exists()
    assert not OutboxMessage.objects.filter(incident__in=year.filter(number__gt=STORY), state="pending").exists()


def test_the_years_overdue_work_sends_no_reminders_on_the_day_it_is_seeded():
    """A year of overdue tasks and follow-ups must not arrive as a burst of reminders at the
    first sweep: the next reminder of each comes at its own next slot, after the first day."""
    from learning.services.reminders import reminders_sweep

    now = timezone.now()
    overdue = LearningTask.objects.filter(org__slug="acme", state="outstanding", due_at__lte=now)
    assert overdue.exists()

    assert reminders_sweep(now=now + timedelta(hours=23)).reminders == 0
    later = reminders_sweep(now=now + timedelta(days=3))
    assert later.reminders > 0 and later.escalations > 0
