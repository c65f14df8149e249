"""Scheduled digests (docs/learning-flow.md, "Digests").

Through the beat's entry point, ``learning.tasks.send_due_digests`` (with
``at``: the sweep as if it ran then), the outbox delivering in-process on
commit, and Django's mail outbox for what people receive. Due dates are set
directly: computing them is another feature's work.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from incidentio.common.actors import Actor
from incidentio.incidents.models import FollowUp, FollowUpStatus, Severity, StatusCategory
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_declare
from learning.models import DigestFrequency, DigestSchedule, LearningTask, TaskState
from learning.services.flow import LearningFlowChoice, incident_close
from learning.tasks import send_due_digests
from slackbot.models import OutboxMessage

pytestmark = pytest.mark.django_db

TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """The outbox delivers in-process, on commit."""


@pytest.fixture
def sweep(django_capture_on_commit_callbacks, mailoutbox):
    """``sweep(moment)``: the beat's sweep at ``moment``; returns the e-mails it sent."""

    def run(moment: datetime) -> list:
        before = len(mailoutbox)
        with django_capture_on_commit_callbacks(execute=True):
            send_due_digests(at=moment.isoformat())
        return mailoutbox[before:]

    return run


def declare(org, user, name: str, *, lead=None):
    return incident_declare(org=org, actor=Actor.for_user(user), name=name,
                            severity=Severity.objects.get(org=org, name="Minor"), lead=lead)


def close_into_flow(incident, user):
    return incident_close(incident=incident, actor=Actor.for_user(user), learning_flow=LearningFlowChoice.RUN)


def close_without_flow(incident, user):
    return incident_close(incident=incident, actor=Actor.for_user(user), learning_flow=LearningFlowChoice.OPT_OUT,
                          opt_out_reason="Tiny blip")


def follow_up(incident, user, title: str, due_at, assignee=None) -> FollowUp:
    item = follow_up_create(incident=incident, actor=Actor.for_user(user), title=title, assignee=assignee)
    FollowUp.objects.filter(pk=item.pk).update(due_at=due_at, due_set_by_hand=True)
    return item


def schedule(org, *, zone: str = "UTC", frequency=DigestFrequency.WEEKLY, weekday: int = 0, hour: int = 9,
             emails=("team@acme.test",), slack_channel: str = "") -> DigestSchedule:
    org.time_zone = zone
    org.save(update_fields=["time_zone"])
    return DigestSchedule.objects.update_or_create(org=org, defaults={
        "enabled": True, "frequency": frequency, "weekday": weekday, "hour": hour, "emails": list(emails),
        "slack_channel": slack_channel,
    })[0]


def incident_link(incident) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/{incident.org.slug}/incidents/{incident.public_id}/"


@pytest.fixture
def overdue_work(acme, owner):
    """One follow-up overdue since long ago: every digest has something to say."""
    incident = declare(acme, owner, "Old outage")
    return follow_up(incident, owner, "Old follow-up", datetime(2026, 1, 5, 8, tzinfo=TOKYO))


# --- What a digest says -------------------------------------------------------------------


def test_the_digest_lists_overdue_and_due_soon_work_by_owner_with_links(acme, owner, responder, sweep):
    owner.name, responder.name = "Zoe Owner", "Ann Responder"
    owner.save(), responder.save()
    schedule(acme, zone="Asia/Tokyo", weekday=0, hour=9, emails=["team@acme.test", "lead@partner.test"])
    monday_9 = datetime(2026, 12, 7, 9, tzinfo=TOKYO)

    # A learning task of an incident in the flow (its lead, Zoe, holds it), overdue.
    in_flow = declare(acme, owner, "Database latency", lead=owner)
    close_into_flow(in_flow, owner)
    task = LearningTask.objects.filter(incident=in_flow, state=TaskState.OUTSTANDING).order_by("rank").first()
    assert task.assignee == owner
    LearningTask.objects.filter(pk=task.pk).update(due_at=datetime(2026, 12, 4, 17, tzinfo=TOKYO))
    # Follow-ups of an incident closed without the flow: still listed.
    closed = declare(acme, owner, "Checkout errors")
    close_without_flow(closed, owner)
    closed.refresh_from_db()
    assert closed.status.category == StatusCategory.CLOSED
    follow_up(closed, owner, "Rotate the API keys", datetime(2026, 12, 9, 12, tzinfo=TOKYO), assignee=responder)
    follow_up(closed, owner, "Add an alert on queue depth", datetime(2026, 12, 10, 17, tzinfo=TOKYO))
    # Not listed: due after the week ahead, done, or without a due date.
    follow_up(closed, owner, "Later work", monday_9 + timedelta(days=8), assignee=responder)
    done = follow_up(closed, owner, "Done already", monday_9 - timedelta(days=3), assignee=responder)
    FollowUp.objects.filter(pk=done.pk).update(status=FollowUpStatus.COMPLETED)
    follow_up(closed, owner, "No due date", None, assignee=responder)

    sent = sweep(monday_9)

    assert sorted(m.to[0] for m in sent) == ["lead@partner.test", "team@acme.test"]
    mail = sent[0]
    assert mail.subject == "[incidentio] Acme Inc.: 1 overdue, 2 due in the next 7 days"
    body = mail.body
    # People by name, the unassigned last; each item with its incident's link; times in Tokyo.
    assert body.index("Ann Responder (1)") < body.index("Zoe Owner (1)") < body.index("Unassigned (1)")
    assert (f"- Rotate the API keys (follow-up, due Wed 9 Dec 12:00)\n"
            f"  {closed.reference} Checkout errors: {incident_link(closed)}") in body
    assert (f"- OVERDUE {task.title} (task, overdue since Fri 4 Dec 17:00)\n"
            f"  {in_flow.reference} Database latency: {incident_link(in_flow)}") in body
    assert "Add an alert on queue depth (follow-up, due Thu 10 Dec 17:00)" in body.split("Unassigned (1)")[1]
    for absent in ("Later work", "Done already", "No due date"):
        assert absent not in body
    # Each e-mail is its outbox message: a copy sent again is the same message to a mail client.
    ids = {m.message()["Message-ID"] for m in sent}
    assert ids == {f"<outbox-{m.public_id}@127.0.0.1>" for m in OutboxMessage.objects.filter(kind="learning.digest")}


def test_a_daily_digest_looks_two_days_ahead(acme, owner, sweep):
    schedule(acme, frequency=DigestFrequency.DAILY, hour=9)
    incident = declare(acme, owner, "Latency")
    now = datetime(2026, 12, 7, 9, tzinfo=ZoneInfo("UTC"))
    follow_up(incident, owner, "Within two days", now + timedelta(days=1, hours=23))
    follow_up(incident, owner, "In three days", now + timedelta(days=3))

    (mail,) = sweep(now)

    assert "Within two days" in mail.body
    assert "In three days" not in mail.body
    assert "0 overdue, 1 due in the next 2 days" in mail.subject


def test_nothing_outstanding_sends_nothing(acme, owner, sweep):
    schedule(acme, zone="Asia/Tokyo")
    incident = declare(acme, owner, "Latency")
    done = follow_up(incident, owner, "Done", datetime(2026, 12, 1, tzinfo=TOKYO))
    FollowUp.objects.filter(pk=done.pk).update(status=FollowUpStatus.COMPLETED)
    follow_up(incident, owner, "Far away", datetime(2027, 3, 1, tzinfo=TOKYO))

    assert sweep(datetime(2026, 12, 7, 9, tzinfo=TOKYO)) == []
    assert not OutboxMessage.objects.exists()
    # The period is taken all the same: work that becomes due later waits for the next digest.
    follow_up(incident, owner, "Now due", datetime(2026, 12, 8, tzinfo=TOKYO))
    assert sweep(datetime(2026, 12, 7, 9, 5, tzinfo=TOKYO)) == []


# --- When it is sent --------------------------------------------------------------------


def test_weekly_in_tokyo_sends_once_per_week_at_the_local_hour(acme, overdue_work, sweep):
    schedule(acme, zone="Asia/Tokyo", frequency=DigestFrequency.WEEKLY, weekday=0, hour=9)

    # Sunday 23:59 in Tokyo (Sunday 14:59 UTC): not yet.
    assert sweep(datetime(2026, 12, 6, 23, 59, tzinfo=TOKYO)) == []
    # Monday 09:00 in Tokyo is Monday 00:00 UTC; in UTC it is still the same
    # Monday, but at 08:59 Tokyo (Sunday 23:59 UTC) it is not yet time.
    assert sweep(datetime(2026, 12, 7, 8, 59, tzinfo=TOKYO)) == []
    assert len(sweep(datetime(2026, 12, 7, 9, 0, tzinfo=TOKYO))) == 1
    # Later sweeps of the same week send nothing, whatever the day.
    assert sweep(datetime(2026, 12, 7, 9, 5, tzinfo=TOKYO)) == []
    assert sweep(datetime(2026, 12, 8, 10, 0, tzinfo=TOKYO)) == []
    assert sweep(datetime(2026, 12, 13, 23, 59, tzinfo=TOKYO)) == []
    # The next Monday: again, once.
    assert len(sweep(datetime(2026, 12, 14, 9, 2, tzinfo=TOKYO))) == 1
    assert sweep(datetime(2026, 12, 14, 9, 7, tzinfo=TOKYO)) == []
    keys = sorted(OutboxMessage.objects.values_list("dedupe_key", flat=True))
    assert [k.split(":")[2] for k in keys] == ["2026-W50", "2026-W51"]


def test_daily_in_berlin_keeps_its_local_hour_across_the_dst_change(acme, overdue_work, sweep):
    schedule(acme, zone="Europe/Berlin", frequency=DigestFrequency.DAILY, hour=9)
    utc = ZoneInfo("UTC")

    # Saturday 24 October 2026, summer time: 09:00 in Berlin is 07:00 UTC.
    assert sweep(datetime(2026, 10, 24, 6, 59, tzinfo=utc)) == []
    assert len(sweep(datetime(2026, 10, 24, 7, 0, tzinfo=utc))) == 1
    # Sunday 25 October, the clocks went back at 03:00: 09:00 is now 08:00 UTC.
    assert sweep(datetime(2026, 10, 25, 7, 0, tzinfo=utc)) == []  # 08:00 in Berlin
    assert sweep(datetime(2026, 10, 25, 7, 59, tzinfo=utc)) == []
    (mail,) = sweep(datetime(2026, 10, 25, 8, 0, tzinfo=utc))
    assert sweep(datetime(2026, 10, 25, 8, 5, tzinfo=utc)) == []
    assert mail.to == ["team@acme.test"]


def test_an_hour_the_clock_skips_is_sent_when_the_clock_jumps(acme, overdue_work, sweep):
    # Sunday 29 March 2026 in Berlin goes from 02:00 straight to 03:00.
    schedule(acme, zone="Europe/Berlin", frequency=DigestFrequency.DAILY, hour=2)

    assert sweep(datetime(2026, 3, 29, 1, 59, tzinfo=BERLIN)) == []
    assert len(sweep(datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN))) == 1
    assert sweep(datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)) == []


def test_a_late_sweep_sends_the_current_digest_once_but_never_one_long_past(acme, overdue_work, sweep):
    schedule(acme, zone="Asia/Tokyo", frequency=DigestFrequency.DAILY, hour=9)

    # The beat was down from 08:00 to 12:00: the 09:00 digest goes out at noon, once.
    assert len(sweep(datetime(2026, 12, 7, 12, 0, tzinfo=TOKYO))) == 1
    assert sweep(datetime(2026, 12, 7, 12, 5, tzinfo=TOKYO)) == []
    # Down from Monday evening to Tuesday 21:01: Tuesday's is more than 12 hours late, skipped ...
    assert sweep(datetime(2026, 12, 8, 21, 1, tzinfo=TOKYO)) == []
    # ... and Wednesday's goes out on time.
    assert len(sweep(datetime(2026, 12, 9, 9, 0, tzinfo=TOKYO))) == 1


def test_a_weekly_digest_more_than_two_days_late_is_skipped(acme, overdue_work, sweep):
    schedule(acme, zone="UTC", frequency=DigestFrequency.WEEKLY, weekday=0, hour=9)
    utc = ZoneInfo("UTC")

    assert sweep(datetime(2026, 12, 9, 9, 1, tzinfo=utc)) == []  # Wednesday, 2 days and a minute late
    assert len(sweep(datetime(2026, 12, 14, 9, 0, tzinfo=utc))) == 1


def test_disabled_or_without_destinations_sends_nothing(acme, overdue_work, sweep):
    disabled = schedule(acme, frequency=DigestFrequency.DAILY, hour=9)
    disabled.enabled = False
    disabled.save()
    assert sweep(datetime(2026, 12, 7, 9, tzinfo=ZoneInfo("UTC"))) == []
    schedule(acme, frequency=DigestFrequency.DAILY, hour=9, emails=[])
    assert sweep(datetime(2026, 12, 7, 9, 5, tzinfo=ZoneInfo("UTC"))) == []
    assert not OutboxMessage.objects.exists()


def test_each_org_gets_its_own_digest(acme, globex, owner, outsider, sweep):
    schedule(acme, frequency=DigestFrequency.DAILY, hour=9, emails=["acme@acme.test"])
    schedule(globex, frequency=DigestFrequency.DAILY, hour=9, emails=["globex@globex.test"])
    follow_up(declare(acme, owner, "Acme outage"), owner, "Acme work", datetime(2026, 12, 1, tzinfo=TOKYO))
    globex_incident = declare(globex, outsider, "Globex outage", lead=outsider)
    follow_up(globex_incident, outsider, "Globex work", datetime(2026, 12, 1, tzinfo=TOKYO))
    close_into_flow(globex_incident, outsider)
    LearningTask.objects.filter(incident=globex_incident).update(title="Globex task",
                                                                due_at=datetime(2026, 12, 1, tzinfo=TOKYO))

    sent = {m.to[0]: m.body for m in sweep(datetime(2026, 12, 7, 9, tzinfo=ZoneInfo("UTC")))}

    assert "Acme work" in sent["acme@acme.test"]
    assert "Globex work" not in sent["acme@acme.test"] and "Globex task" not in sent["acme@acme.test"]
    assert "Globex work" in sent["globex@globex.test"] and "Globex task" in sent["globex@globex.test"]
    assert "Acme work" not in sent["globex@globex.test"]


def test_the_sweep_refuses_a_moment_without_its_offset(db):
    with pytest.raises(ValueError, match="offset"):
        send_due_digests(at="2026-12-07T09:00:00")


def test_building_a_digest_takes_two_queries_whatever_the_number_of_items(acme, owner, responder,
                                                                          django_assert_num_queries):
    from learning.services.digests import digest_build

    now = datetime(2026, 12, 7, 9, tzinfo=TOKYO)
    for n in range(6):
        incident = declare(acme, owner, f"Outage {n}", lead=owner if n % 2 else responder)
        close_into_flow(incident, owner)
        follow_up(incident, owner, f"Follow-up {n}", now - timedelta(days=n), assignee=responder if n % 2 else None)
    LearningTask.objects.filter(org=acme).update(due_at=now + timedelta(days=1))
    acme.refresh_from_db()

    with django_assert_num_queries(2):
        digest = digest_build(org=acme, frequency=DigestFrequency.WEEKLY, now=now)

    assert len(digest.items) == 6 + LearningTask.objects.filter(org=acme, state=TaskState.OUTSTANDING).count()
    assert {group.owner for group in digest.groups} >= {"Unassigned"}


def test_the_beat_runs_the_digest_sweep_every_five_minutes():
    from incidentio.config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["learning-send-digests"]
    assert entry["schedule"] == 300.0
    assert app.tasks[entry["task"]].name == send_due_digests.name == "learning.tasks.send_due_digests"
