"""Reminders and escalation (docs/learning-flow.md "Reminders and escalation").

The sweep runs through its Celery task (``learning.tasks.send_due_reminders``,
what the beat calls) or, to step through time, ``reminders_sweep(now=…)``.
Celery is eager and delivery runs on commit: with no Slack workspace, a DM
goes by e-mail (the console transport), so ``mail.outbox`` is what the owner
received. Due dates are set on the items directly (the "due" rules set them
in the product).
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import (
    EventKind,
    FollowUp,
    IncidentRoleAssignment,
    RoleKind,
    Severity,
    TimelineEvent,
)
from incidentio.incidents.services.configuration import role_create
from incidentio.incidents.services.follow_ups import follow_up_create, follow_up_edit
from incidentio.incidents.services.incidents import incident_assign_role, incident_declare
from learning.models import LearningTask, ReminderPolicy
from learning.services.flow import incident_close
from learning.services.reminders import reminder_policy_update, reminder_snooze, reminders_sweep
from learning.tasks import send_due_reminders
from slackbot.models import OutboxMessage

pytestmark = pytest.mark.django_db

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """Deliveries run in-process on commit, also with REDIS_URL set."""


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """Run the beat's task (or the service at a given moment) and deliver what it queued."""

    def run(now=None, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            if now is None and not kwargs:
                return send_due_reminders()
            return reminders_sweep(now=now, **kwargs)

    return run


@pytest.fixture
def closed(acme, owner, responder, commit):
    """A closed incident in its learning flow: responder leads it and holds its tasks."""
    acme.time_zone = "Europe/Paris"
    acme.save(update_fields=["time_zone"])
    incident = commit(incident_declare, org=acme, actor=Actor.for_user(owner), name="Checkout is down",
                      severity=Severity.objects.get(org=acme, name="Minor"), lead=responder)
    commit(incident_close, incident=incident, actor=Actor.for_user(owner), learning_flow="run")
    # Each test gives a due date to the items it is about; the templates' rules gave some already.
    LearningTask.objects.filter(incident=incident).update(due_at=None)
    incident.refresh_from_db()
    mail.outbox.clear()  # the "you have tasks" DM
    return incident


def _due(item, due_at, **fields):
    for name, value in {"due_at": due_at, **fields}.items():
        setattr(item, name, value)
    item.save(update_fields=["due_at", *fields])
    return item


@pytest.fixture
def task(closed):
    return LearningTask.objects.filter(incident=closed).order_by("rank", "pk").first()


def reminders(kind="learning.reminder"):
    return list(OutboxMessage.objects.filter(kind=kind).order_by("pk"))


def slots():
    return [m.data["slot"] for m in reminders()]


def test_a_task_due_tomorrow_reminds_its_assignee_once_by_email_in_the_orgs_time_zone(closed, task, responder,
                                                                                      sweep):
    due = (timezone.now() + 12 * HOUR).replace(second=0, microsecond=0)
    _due(task, due)
    assert sweep() == 1
    assert sweep() == 0  # the same slot is never sent twice
    assert [m.to for m in mail.outbox] == [[responder.email]]
    body = mail.outbox[0].body
    local = timezone.localtime(due, timezone=ZoneInfo("Europe/Paris"))
    assert f"“{task.title}” on {closed.reference}" in body
    assert f"{local:%H:%M} (Europe/Paris)" in body
    assert f"{settings.SITE_URL.rstrip('/')}/acme/incidents/{closed.public_id}/" in body
    assert "<http" not in body and "&lt;" not in body  # plain text, no Slack markup
    message = reminders()[0]
    assert message.destination == f"dm:{responder.pk}" and message.data["slot"] == "before"
    actions = {e["action_id"] for b in message.blocks if b["type"] == "actions" for e in b["elements"]}
    assert actions == {"reminder_done", "reminder_snooze_day", "reminder_snooze_week", "reminder_snooze_date"}


def test_nothing_before_the_first_slot_nor_without_a_due_date(closed, task, sweep):
    _due(task, timezone.now() + 2 * DAY)
    assert sweep() == 0 and reminders() == [] and mail.outbox == []


def test_every_slot_is_sent_once_as_time_passes(closed, task, sweep):
    due = timezone.now()
    _due(task, due)
    for moment in (-23 * HOUR, -20 * HOUR, 0 * HOUR, HOUR, 2 * DAY, 2 * DAY + HOUR, 4 * DAY, 4 * DAY + 5 * HOUR):
        sweep(now=due + moment)
    # 24 h before (from −23 h), at the due date, then every 2 days; escalation after 5 days has not come.
    assert slots() == ["before", "due", "overdue-1", "overdue-2"]
    assert reminders("learning.overdue_escalated") == []


def test_a_late_sweep_sends_only_the_latest_slot(closed, task, sweep):
    due = timezone.now() - 4 * DAY - HOUR
    _due(task, due)
    assert sweep() == 1
    assert slots() == ["overdue-2"]  # not "due tomorrow", "due now" and "overdue" at once
    assert "overdue by 4 days" in mail.outbox[0].body
    assert sweep() == 0


def test_after_the_incident_is_closed_a_follow_up_is_still_reminded_and_unassigned_goes_to_the_lead(
        acme, owner, responder, commit, sweep):
    incident = commit(incident_declare, org=acme, actor=Actor.for_user(owner), name="Disk full", lead=responder)
    commit(incident_close, incident=incident, actor=Actor.for_user(owner), learning_flow="opt_out",
           opt_out_reason="Small one")
    follow_up = commit(follow_up_create, incident=incident, actor=Actor.for_user(owner), title="Add an alert")
    _due(follow_up, timezone.now() - HOUR)
    assert sweep() == 1
    assert [m.to for m in mail.outbox] == [[responder.email]]
    assert "Follow-up “Add an alert”" in mail.outbox[0].body and "is due now" in mail.outbox[0].body


def test_an_unassigned_task_reminds_its_roles_holder_else_the_lead(closed, task, owner, admin, responder, commit,
                                                                   sweep):
    scribe = role_create(org=closed.org, name="Scribe", shortform="scribe")
    commit(incident_assign_role, incident=closed, actor=Actor.for_user(owner), role=scribe, user=admin)
    others = list(LearningTask.objects.filter(incident=closed).exclude(pk=task.pk).order_by("pk"))
    LearningTask.objects.filter(pk=task.pk).update(assignee=None, assignee_role=scribe)
    LearningTask.objects.filter(pk=others[0].pk).update(assignee=None, assignee_role=None)
    for item in (task, others[0]):
        _due(LearningTask.objects.get(pk=item.pk), timezone.now() - HOUR)
    sweep()
    assert sorted(m.destination for m in reminders()) == sorted([f"dm:{admin.pk}", f"dm:{responder.pk}"])


def test_a_snoozed_task_sends_nothing_until_the_snooze_ends_then_one_reminder(closed, task, owner, sweep, commit):
    now = timezone.now()
    _due(task, now - HOUR)
    sweep(now=now)
    commit(reminder_snooze, item=task, actor=Actor.for_user(owner), until=now + 3 * DAY, reason="On holiday")
    for later in (DAY, 2 * DAY + HOUR, 3 * DAY - HOUR):
        sweep(now=now + later)
    assert slots() == ["due"]  # overdue-1 came during the snooze: not sent
    sweep(now=now + 3 * DAY + timedelta(minutes=1))
    sweep(now=now + 3 * DAY + 2 * HOUR)
    assert slots()[1:] == [f"snooze-end-{int((now + 3 * DAY).timestamp())}"]
    assert "Your snooze has ended" in mail.outbox[-1].body and "overdue" in mail.outbox[-1].body
    sweep(now=now + 4 * DAY)  # the next regular slot after the snooze goes out as usual
    assert slots()[-1] == "overdue-2"
    event = TimelineEvent.objects.get(incident=closed, kind=EventKind.REMINDER_SNOOZED)
    assert "On holiday" in event.text and event.data["task_id"] == str(task.public_id)


def test_snoozing_refuses_the_past_beyond_90_days_and_done_work_and_changes_nothing(closed, task, owner):
    for until, message in ((timezone.now() - HOUR, "in the future"), (timezone.now() + 91 * DAY, "90 days"),
                           (None, "until when")):
        with pytest.raises(ServiceError, match=message):
            reminder_snooze(item=task, actor=Actor.for_user(owner), until=until)
    task.refresh_from_db()
    assert task.snoozed_until is None
    assert not TimelineEvent.objects.filter(kind=EventKind.REMINDER_SNOOZED).exists()


def test_a_changed_due_date_starts_new_slots(closed, task, sweep):
    now = timezone.now()
    _due(task, now - HOUR)
    sweep(now=now)
    _due(task, now + DAY + HOUR)  # moved a day later: its own "before" and "due" come
    sweep(now=now + 2 * HOUR)
    sweep(now=now + DAY + 2 * HOUR)
    assert slots() == ["due", "before", "due"]


def test_a_due_date_the_policy_moves_earlier_is_reminded_at_its_new_slot(closed, owner, responder, commit, sweep):
    """The follow-up policy rewrites due dates in bulk (a new priority, a corrected
    resolution): the sweep must look at the item again, not wait for the old slot."""
    actor = Actor.for_user(owner)
    item = commit(follow_up_create, incident=closed, actor=actor, title="Rotate keys", assignee=responder,
                  priority="medium")
    item.refresh_from_db()
    assert item.due_at is not None  # Medium: 20 business days after resolution
    sweep(now=timezone.now())  # nothing due yet; the next look is a day before the old date
    commit(follow_up_edit, follow_up=item, actor=actor, priority="urgent")
    item.refresh_from_db()
    assert item.due_at < timezone.now() + 6 * DAY  # Urgent: 3 business days
    sweep(now=item.due_at + HOUR)
    assert slots() == ["due"]


def test_escalation_tells_the_lead_once_records_it_and_the_owner_is_still_reminded(closed, task, admin, responder,
                                                                                 sweep):
    LearningTask.objects.filter(pk=task.pk).update(assignee=admin)
    _due(LearningTask.objects.get(pk=task.pk), timezone.now() - 5 * DAY - HOUR)
    sweep()
    sweep()
    escalations = reminders("learning.overdue_escalated")
    assert [m.destination for m in escalations] == [f"dm:{responder.pk}"]  # the lead
    assert [m.destination for m in reminders()] == [f"dm:{admin.pk}"]  # the owner too
    events = TimelineEvent.objects.filter(incident=closed, kind=EventKind.OVERDUE_ESCALATED)
    assert events.count() == 1 and "5 days overdue" in events[0].text
    assert "You are told as the incident's" in [m for m in mail.outbox if m.to == [responder.email]][0].body


def test_escalation_goes_to_the_policys_role_holder(closed, task, owner, viewer, admin, commit, sweep):
    role = role_create(org=closed.org, name="Manager", shortform="mgr")
    commit(incident_assign_role, incident=closed, actor=Actor.for_user(owner), role=role, user=admin)
    ReminderPolicy.objects.create(org=closed.org, escalate_after_days=1, escalate_to_role=role)
    _due(task, timezone.now() - DAY - HOUR)
    sweep()
    assert [m.destination for m in reminders("learning.overdue_escalated")] == [f"dm:{admin.pk}"]


def test_a_policy_without_reminders_before_repeats_or_escalation(closed, task, sweep):
    ReminderPolicy.objects.create(org=closed.org, remind_before_hours=0, repeat_every_days=0,
                                  escalate_after_days=None)
    due = timezone.now()
    _due(task, due)
    for moment in (-HOUR, 0 * HOUR, 3 * DAY, 30 * DAY):
        sweep(now=due + moment)
    assert slots() == ["due"] and reminders("learning.overdue_escalated") == []


def test_a_huge_backlog_is_swept_in_batches(closed, owner, commit, sweep):
    for n in range(7):
        item = commit(follow_up_create, incident=closed, actor=Actor.for_user(owner), title=f"Follow-up {n}")
        _due(item, timezone.now() - HOUR)
    result = sweep(batch_size=3, now=timezone.now())
    assert result.reminders == 7 and len(reminders()) == 7


def _sweep_queries() -> int:
    """The sweep's own queries (delivery is the outbox's, per message, after commit)."""
    with CaptureQueriesContext(connection) as queries:
        reminders_sweep(now=timezone.now())
    return len([q for q in queries.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))])


def test_the_sweeps_queries_do_not_grow_with_the_items_due(acme, owner, responder, commit, sweep):
    def incident_with(count):
        incident = commit(incident_declare, org=acme, actor=Actor.for_user(owner), name="Load", lead=responder)
        for n in range(count):
            item = commit(follow_up_create, incident=incident, actor=Actor.for_user(owner), title=f"F{n}",
                          assignee=responder)
            _due(item, timezone.now() - HOUR)

    incident_with(1)
    one = _sweep_queries()
    assert len(reminders()) == 1
    OutboxMessage.objects.all().delete()
    FollowUp.objects.all().delete()
    incident_with(50)
    fifty = _sweep_queries()
    assert len(reminders()) == 50
    assert fifty == one, (one, fifty)


def test_escalations_cost_the_same_queries_however_many_and_show_on_the_incident_page(
        acme, owner, responder, commit, sweep, signed_in):
    """The escalations' timeline events are written together, and each incident's
    page (its timeline kept under ``timeline_version``) shows them at once."""
    client = signed_in(responder, acme)

    def incidents_with_escalations(incidents, per_incident):
        declared = []
        for _ in range(incidents):
            incident = commit(incident_declare, org=acme, actor=Actor.for_user(owner), name="Load", lead=responder)
            for n in range(per_incident):
                item = commit(follow_up_create, incident=incident, actor=Actor.for_user(owner), title=f"F{n}",
                              assignee=responder)
                _due(item, timezone.now() - 5 * DAY - HOUR)
            assert b"was told" not in client.get(f"/acme/incidents/{incident.public_id}/").content  # kept
            declared.append(incident)
        return declared

    incidents_with_escalations(1, 1)
    one = _sweep_queries()
    OutboxMessage.objects.all().delete()
    FollowUp.objects.all().delete()
    declared = incidents_with_escalations(10, 3)
    thirty = _sweep_queries()
    assert len(reminders("learning.overdue_escalated")) == 30
    assert thirty == one, (one, thirty)
    for incident in declared:
        page = client.get(f"/acme/incidents/{incident.public_id}/").content.decode()
        assert page.count("5 days overdue: ") == 3, incident


def test_nothing_due_costs_a_few_queries(closed, task, sweep):
    _due(task, timezone.now() + 10 * DAY)
    assert _sweep_queries() <= 4



def test_a_sweep_reads_only_the_work_whose_next_slot_has_come(closed, task, sweep):
    """The beat sweeps every minute: work reminded for its latest slot is not read again
    before its next slot, however long it stays overdue."""
    now = timezone.now()
    due = now - HOUR
    _due(task, due)
    assert sweep(now=now).reminders == 1
    for later in (timedelta(minutes=1), DAY, 2 * DAY - HOUR - timedelta(minutes=1)):
        assert sweep(now=now + later).items == 0
    result = sweep(now=due + 2 * DAY)
    assert (result.items, result.reminders) == (1, 1) and slots() == ["due", "overdue-1"]


def test_a_snoozed_item_is_not_read_again_before_its_snooze_ends(closed, task, owner, sweep, commit):
    now = timezone.now()
    _due(task, now - HOUR)
    sweep(now=now)
    commit(reminder_snooze, item=task, actor=Actor.for_user(owner), until=now + 3 * DAY)
    assert sweep(now=now + HOUR).items == 1  # the saved snooze is looked at once, and sends nothing
    assert sweep(now=now + 2 * DAY + HOUR).items == 0  # overdue-1 came during the snooze
    assert sweep(now=now + 3 * DAY + timedelta(minutes=1)).reminders == 1
    assert slots() == ["due", f"snooze-end-{int((now + 3 * DAY).timestamp())}"]


def test_a_changed_policy_applies_at_the_next_sweep(closed, task, sweep):
    now = timezone.now()
    _due(task, now + 3 * DAY)
    assert sweep(now=now).reminders == 0  # nothing before "24 h before"
    reminder_policy_update(org=closed.org, remind_before_hours=96, repeat_every_days=2, escalate_after_days=5)
    assert sweep(now=now + HOUR).reminders == 1 and slots() == ["before"]


def test_work_with_nobody_to_remind_is_tried_again_an_hour_later(closed, task, owner, responder, commit, sweep):
    lead = IncidentRoleAssignment.objects.get(incident=closed, role__kind=RoleKind.LEAD)
    lead.delete()
    LearningTask.objects.filter(pk=task.pk).update(assignee=None, assignee_role=None)
    now = timezone.now()
    _due(LearningTask.objects.get(pk=task.pk), now - HOUR)
    assert (sweep(now=now).items, reminders()) == (1, [])
    commit(incident_assign_role, incident=closed, actor=Actor.for_user(owner), role=lead.role, user=responder)
    assert sweep(now=now + 59 * timedelta(minutes=1)).items == 0  # not read every minute meanwhile
    assert sweep(now=now + HOUR).reminders == 1
    assert [m.destination for m in reminders()] == [f"dm:{responder.pk}"]


# --- Snoozing from the dashboard and the API ----------------------------------------------------


def test_snooze_from_the_incident_page(closed, task, responder, signed_in):
    _due(task, timezone.now() + HOUR)
    client = signed_in(responder, closed.org)
    page = client.get(f"/acme/incidents/{closed.public_id}/")
    assert b"Snooze reminders" in page.content
    day = (timezone.now() + 3 * DAY).date()
    response = client.post(f"/acme/incidents/{closed.public_id}/tasks/{task.public_id}/snooze/",
                           {"until": day.isoformat(), "reason": "Waiting on the vendor"})
    assert response.status_code == 302
    task.refresh_from_db()
    local = task.snoozed_until.astimezone(ZoneInfo("Europe/Paris"))
    assert (local.date(), local.hour) == (day, 9)
    event = TimelineEvent.objects.get(incident=closed, kind=EventKind.REMINDER_SNOOZED)
    assert "Waiting on the vendor" in event.text


def test_a_follow_ups_snooze_from_the_incident_page_refuses_a_past_day(closed, owner, responder, commit,
                                                                       signed_in):
    follow_up = commit(follow_up_create, incident=closed, actor=Actor.for_user(owner), title="Rotate keys")
    _due(follow_up, timezone.now() - HOUR)
    client = signed_in(responder, closed.org)
    url = f"/acme/incidents/{closed.public_id}/follow-ups/{follow_up.public_id}/snooze/"
    response = client.post(url, {"until": "2020-01-01"})
    assert response.status_code == 303
    assert "in the future" in client.get(response["Location"]).content.decode()
    follow_up.refresh_from_db()
    assert follow_up.snoozed_until is None
    assert client.post(url, {"until": (timezone.now() + 2 * DAY).date().isoformat()}).status_code == 302
    follow_up.refresh_from_db()
    assert follow_up.snoozed_until is not None


def test_snooze_through_the_api(closed, task, owner, editor, commit):
    until = (timezone.now() + 2 * DAY).replace(microsecond=0)
    response = editor.post(f"learning_tasks/{task.public_id}/actions/snooze",
                           {"until": until.isoformat(), "reason": "Busy"})
    assert response.status_code == 200, response.content
    assert response.json()["learning_task"]["snoozed_until"] == until.isoformat().replace("+00:00", "Z")
    past = editor.post(f"learning_tasks/{task.public_id}/actions/snooze", {"until": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422 and past.json()["errors"][0]["source"]["field"] == "until"
    task.refresh_from_db()
    assert task.snoozed_until == until
    follow_up = commit(follow_up_create, incident=closed, actor=Actor.for_user(owner), title="Rotate keys")
    response = editor.post(f"follow_ups/{follow_up.public_id}/actions/snooze", {"until": until.isoformat()})
    assert response.status_code == 200 and response.json()["follow_up"]["snoozed_until"] is not None


def test_another_orgs_item_cannot_be_snoozed_through_the_api(globex, outsider, editor):
    from incidentio.incidents.services.incidents import incident_declare as declare

    theirs = declare(org=globex, actor=Actor.for_user(outsider), name="Theirs")
    follow_up = follow_up_create(incident=theirs, actor=Actor.for_user(outsider), title="Secret")
    until = (timezone.now() + DAY).isoformat()
    assert editor.post(f"follow_ups/{follow_up.public_id}/actions/snooze", {"until": until}).status_code == 404
    follow_up.refresh_from_db()
    assert follow_up.snoozed_until is None


# --- Settings → Reminders -----------------------------------------------------------------------


def test_admins_edit_the_reminder_policy_with_an_example(acme, admin, responder, signed_in):
    client = signed_in(admin, acme)
    page = client.get("/acme/settings/reminders/")
    assert page.status_code == 200
    example = " ".join(page.content.decode().split())
    assert "at Friday 17:00, then every 2 days while it is overdue; after 5 days overdue the incident lead" in example
    scribe = role_create(org=acme, name="Scribe", shortform="scribe")
    response = client.post("/acme/settings/reminders/", {
        "remind_before_hours": "48", "repeat_every_days": "1", "escalate_after_days": "",
        "escalate_to_role": str(scribe.public_id)})
    assert response.status_code == 302
    policy = ReminderPolicy.objects.get(org=acme)
    assert (policy.remind_before_hours, policy.repeat_every_days, policy.escalate_after_days,
            policy.escalate_to_role) == (48, 1, None, scribe)
    bad = client.post("/acme/settings/reminders/", {"remind_before_hours": "-1", "repeat_every_days": "1"})
    assert bad.status_code == 400
    assert ReminderPolicy.objects.get(org=acme).remind_before_hours == 48
    assert signed_in(responder, acme).get("/acme/settings/reminders/").status_code == 403


# --- Webhooks -----------------------------------------------------------------------------------


def test_overdue_webhooks_are_queued_once_when_work_goes_past_its_due_date(closed, task, owner, commit):
    """Queued, not sent: the sweep's on-commit jobs are not run here."""
    from webhooks.models import WebhookDelivery, WebhookEndpoint

    WebhookEndpoint.objects.create(org=closed.org, url="https://example.com/hook",
                                   events=["learning_task.overdue", "follow_up.overdue"])
    follow_up = commit(follow_up_create, incident=closed, actor=Actor.for_user(owner), title="Rotate keys")
    now = timezone.now()
    _due(task, now + HOUR)
    _due(follow_up, now - 3 * DAY)  # a late first sweep: folded to overdue-1, still one overdue event
    reminders_sweep(now=now)
    assert list(WebhookDelivery.objects.values_list("event_type", flat=True)) == ["follow_up.overdue"]
    for later in (2 * HOUR, DAY, 3 * DAY):
        reminders_sweep(now=now + later)
    deliveries = WebhookDelivery.objects.order_by("pk")
    assert [d.event_type for d in deliveries] == ["follow_up.overdue", "learning_task.overdue"]
    payload = deliveries[1].payload
    assert payload["data"]["learning_task"]["id"] == str(task.public_id)
    assert payload["data"]["incident"]["id"] == str(closed.public_id)
    assert deliveries[0].payload["data"]["follow_up"]["title"] == "Rotate keys"
