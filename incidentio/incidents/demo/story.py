"""Demo incidents for ``seed_demo``: a living product for a newcomer to click through.

Built only through the services, so the timelines are the real ones.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, IncidentStatus, LearningFlowState, Severity
from incidentio.incidents.services import configuration, documents, follow_ups, incidents
from learning.models import DigestFrequency, LearningTask, TaskState
from learning.services.digests import digest_schedule_update
from learning.services.flow import LearningFlowChoice, incident_close, learning_advance
from learning.services.tasks import task_complete

DEMO_POSTMORTEM = """## Summary

A deploy of the checkout service shipped a connection-pool setting of 5 instead
of 50. Under the afternoon peak, about 30% of card payments failed with 502s
for 38 minutes until the deploy was rolled back.

## Impact

- ~4,100 failed checkout attempts; most customers retried successfully.
- No data loss. Support received 63 tickets.

## Root causes

1. The pool size moved from code to an environment variable; the new
   variable's default was wrong.
2. The deploy went to 100% of hosts at once: no canary caught it.

## What went well

- The error-rate alert fired within 2 minutes.
- Rollback took 6 minutes end to end.

## What could have gone better

- We alerted on the count of 5xx, which lags on low traffic; a ratio would
  have fired sooner.
"""


def _status(org, name):
    return IncidentStatus.objects.get(org=org, name=name)


def _severity(org, name):
    return Severity.objects.get(org=org, name=name)


def _backdate(incident: Incident, *, hours_ago: float, lasted_hours: float) -> None:
    """Spread the demo incident's story over a realistic stretch of the past.

    Seeding runs in a second; without this every duration would read "<1m".
    Only demo data is rewritten like this, with queryset updates.
    """
    start = timezone.now() - timedelta(hours=hours_ago)
    events = list(incident.timeline.order_by("occurred_at", "pk"))
    step = timedelta(hours=lasted_hours) / max(len(events) - 1, 1)
    for index, event in enumerate(events):
        type(event).objects.filter(pk=event.pk).update(occurred_at=start + step * index)
    original = incident.reported_at
    shift = {}
    for field in ("reported_at", "accepted_at", "identified_at", "fixed_at", "resolved_at", "closed_at"):
        value = getattr(incident, field)
        if value is not None:
            # Keep each timestamp's place in the story, scaled into the stretch.
            seconds = (value - original).total_seconds()
            total = max((timezone.now() - original).total_seconds(), 1)
            shift[field] = start + timedelta(hours=lasted_hours) * (seconds / total)
    Incident.objects.filter(pk=incident.pk).update(**shift)


def _finish_learning_flow(incident: Incident, actor: Actor) -> None:
    """Work through every learning status the way a team would."""
    for _ in range(10):
        incident.refresh_from_db()
        if incident.learning_flow != LearningFlowState.RUNNING:
            return
        for task in LearningTask.objects.filter(incident=incident, status=incident.status, state=TaskState.OUTSTANDING):
            task_complete(task=task, actor=actor)
        # Without a broker the advance already ran on commit; with one, run it here.
        learning_advance(incident_id=incident.pk, from_status_id=incident.status_id)


def seed_demo_incidents(*, org, people: list) -> int:
    """Create the demo incidents of ``org`` once; returns how many were created."""
    if Incident.objects.filter(org=org).exists():
        return 0
    lead_person, other = people[0], people[-1]
    me, them = Actor.for_user(lead_person), Actor.for_user(other)
    now = timezone.now()
    created = 0
    # A second type, so the type select, badges and filter have something to show.
    security = configuration.incident_type_create(
        org=org, name="Security",
        description="Suspected breaches, leaked credentials, certificates and abuse.",
    )

    # Long done: closed through the whole learning flow.
    inc = incidents.incident_declare(
        org=org, actor=them, name="Webhook deliveries delayed", severity=_severity(org, "Major"), lead=other,
        summary="Outbound webhooks queued for up to 25 minutes.",
    )
    incidents.incident_post_update(incident=inc, actor=them, message="A noisy tenant saturated the webhook workers.")
    incidents.incident_edit(incident=inc, actor=them, status=_status(org, "Monitoring"))
    incident_close(incident=inc, actor=them, learning_flow=LearningFlowChoice.RUN)
    _finish_learning_flow(inc, them)
    inc.refresh_from_db()
    _backdate(inc, hours_ago=24 * 9, lasted_hours=30)
    created += 1

    # Closed without the learning flow, with the reason on record.
    inc = incidents.incident_declare(org=org, actor=me, name="Status page certificate expiry warning",
                                     severity=_severity(org, "Minor"), lead=lead_person, incident_type=security)
    incident_close(incident=inc, actor=me, learning_flow=LearningFlowChoice.OPT_OUT,
                   opt_out_reason="Renewed automatically an hour later; no customer impact.")
    inc.refresh_from_db()
    _backdate(inc, hours_ago=24 * 4, lasted_hours=1)
    created += 1

    # Closed into the learning flow (Critical incidents always are): tasks to do.
    inc = incidents.incident_declare(
        org=org, actor=me, name="Checkout API returning 502s", severity=_severity(org, "Critical"), lead=lead_person,
        summary="Card payments fail for **about 30%** of checkouts after the 14:05 deploy.",
    )
    incidents.incident_post_update(incident=inc, actor=me, message="Rolling back deploy `a1b2c3` — error rate tracks it.")
    incidents.incident_edit(incident=inc, actor=them, status=_status(org, "Fixing"))
    incidents.incident_post_update(incident=inc, actor=them, message="Rollback done; 502s down to 0.5%.")
    incidents.incident_edit(incident=inc, actor=me, status=_status(org, "Monitoring"))
    pm = documents.postmortem_create(incident=inc, actor=me, content=DEMO_POSTMORTEM)
    documents.postmortem_set_status(postmortem=pm, actor=me, status="in_review")
    follow_ups.follow_up_create(incident=inc, actor=me, title="Add a canary stage to the checkout deploy",
                                assignee=other, priority="high")
    follow_ups.follow_up_create(incident=inc, actor=them, title="Alert on 5xx ratio, not count", priority="medium")
    documents.debrief_schedule(incident=inc, actor=me, scheduled_at=now + timedelta(days=2), duration_minutes=45,
                               location="https://meet.example.com/checkout-debrief", attendees=people)
    incident_close(incident=inc, actor=me)  # Critical: the rules start the learning flow
    inc.refresh_from_db()
    _backdate(inc, hours_ago=70, lasted_hours=3.5)
    created += 1

    # Live incidents in each live status.
    inc = incidents.incident_declare(
        org=org, actor=them, name="Search results stale for EU customers", severity=_severity(org, "Major"),
        lead=other, summary="Index updates lag by up to 40 minutes in eu-west-1.",
    )
    incidents.incident_post_update(incident=inc, actor=them, message="Replication queue depth is 2M and growing.")
    incidents.incident_edit(incident=inc, actor=them, status=_status(org, "Fixing"))
    inc.refresh_from_db()
    _backdate(inc, hours_ago=5, lasted_hours=4.5)
    created += 1

    inc = incidents.incident_declare(
        org=org, actor=me, name="Elevated login latency", severity=_severity(org, "Minor"), lead=lead_person,
    )
    incidents.incident_post_update(incident=inc, actor=me, message="p95 at 1.8s; looking at the session store.")
    incidents.incident_post_update(incident=inc, actor=me,
                                   message="Most slow logins are failed attempts from a few IP ranges: credential stuffing?")
    incidents.incident_type_change(incident=inc, actor=me, incident_type=security)
    inc.refresh_from_db()
    _backdate(inc, hours_ago=0.6, lasted_hours=0.5)
    created += 1

    # Triage: reported, not yet confirmed.
    incidents.incident_declare(org=org, actor=them, name="Customer reports missing invoice PDFs", triage=True)
    created += 1

    # Declined from triage.
    inc = incidents.incident_declare(org=org, actor=me, name="Dashboard shows wrong timezone", triage=True)
    incidents.incident_decline(incident=inc, actor=me, reason="A display preference, not an incident; ticket filed.")
    created += 1

    # Monday mornings, the week's overdue and due-soon work by e-mail (Settings → Digests).
    digest_schedule_update(org=org, enabled=True, frequency=DigestFrequency.WEEKLY, weekday=0, hour=9,
                           slack_channel=None, emails=[lead_person.email], now=now)

    return created
