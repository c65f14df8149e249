"""People acting on learning tasks (learning/services/tasks.py) and who hears about
it (``notify_assignee``): gaps that mutation testing found (issue 23).

Each test goes through the public API (``/api/v2/learning_tasks``) and asserts
what an integrator or a responder notices: the task JSON (re-read, so what was
saved), the timeline, the Slack DMs queued in the outbox, the webhook payload,
the incident page. Two incidents are in the flow, so a change landing on the
wrong one shows.
"""

from __future__ import annotations

import pytest
from django.utils.dateparse import parse_datetime

from incidentio.common import limits
from incidentio.common.actors import Actor
from incidentio.incidents.models import EventKind, IncidentRole, RoleKind, TimelineEvent
from incidentio.incidents.services.documents import postmortem_create
from incidentio.incidents.services.incidents import incident_assign_role
from learning.messages import TASK_ASSIGNED
from learning.models import LearningTask, TaskKind
from orgs.models import Membership
from slackbot.models import OutboxMessage
from tests.api_learning.conftest import ApiClient, declare_and_close, error_fields
from webhooks import services as webhooks
from webhooks.models import WebhookDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """The advance runs on commit through Celery; in-process here."""


@pytest.fixture
def incident(acme, owner, responder, commit):
    """INC-1 in Documenting, its tasks following the lead (the responder)."""
    return declare_and_close(acme, owner, lead=responder, commit=commit)


@pytest.fixture
def other(acme, owner, responder, incident, commit):
    """INC-2, in the flow too and led by the same responder: untouched by what happens to INC-1."""
    return declare_and_close(acme, owner, lead=responder, name="Search is slow", commit=commit)


def task_of(incident, kind=TaskKind.REVIEW_TIMELINE) -> LearningTask:
    return LearningTask.objects.get(incident=incident, status_id=incident.status_id, kind=kind)


def shown(api: ApiClient, task: LearningTask) -> dict:
    """The task as GET /learning_tasks/<id> shows it: what is stored."""
    response = api.get(f"learning_tasks/{task.public_id}")
    assert response.status_code == 200, response.content
    return response.json()["learning_task"]


def act(api: ApiClient, task: LearningTask, action: str, body=None) -> dict:
    response = api.post(f"learning_tasks/{task.public_id}/actions/{action}", body)
    assert response.status_code == 200, response.content
    return response.json()["learning_task"]


def events(incident, kind) -> list[TimelineEvent]:
    return list(TimelineEvent.objects.filter(incident=incident, kind=kind).order_by("occurred_at", "pk"))


def dms(incident) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(incident=incident, kind=TASK_ASSIGNED).order_by("pk"))


def member_id(org, user) -> str:
    return str(Membership.objects.get(org=org, user=user).public_id)


def lead(org) -> IncidentRole:
    return IncidentRole.objects.get(org=org, kind=RoleKind.LEAD)


def other_snapshot(other) -> list:
    """What the other incident's tasks look like; nothing done to INC-1 may change it."""
    return list(LearningTask.objects.filter(incident=other).order_by("pk").values_list(
        "state", "assignee_id", "assigned_manually", "addressed_at", "not_doing_reason"))


def other_unchanged(other, before: list) -> None:
    assert other_snapshot(other) == before


# --- Not doing, complete, reopen ----------------------------------------------------------------


def test_marking_not_doing_twice_is_one_change(editor, incident, other):
    task, before_other = task_of(incident), other_snapshot(other)

    first = act(editor, task, "not_doing", {"reason": "Nothing happened outside the tool."})
    again = act(editor, task, "not_doing", {"reason": "A second, different reason."})

    assert first["state"] == again["state"] == "not_doing"
    assert again["not_doing_reason"] == "Nothing happened outside the tool."
    assert again["addressed_at"] == first["addressed_at"] is not None
    assert shown(editor, task) == again
    [event] = events(incident, EventKind.TASK_NOT_DOING)
    assert event.data["reason"] == "Nothing happened outside the tool."
    other_unchanged(other, before_other)


def test_complete_and_not_doing_store_when_the_task_was_addressed(editor, incident):
    done, skipped = task_of(incident), task_of(incident, TaskKind.UPDATE_TIMESTAMPS)

    completed = act(editor, done, "complete")
    not_doing = act(editor, skipped, "not_doing", {"reason": "They were right."})

    for body, task in ((completed, done), (not_doing, skipped)):
        assert body["addressed_at"] is not None
        assert shown(editor, task)["addressed_at"] == body["addressed_at"]
        assert parse_datetime(body["addressed_at"]) == LearningTask.objects.get(pk=task.pk).addressed_at
    assert all(t.addressed_at is None for t in LearningTask.objects.filter(incident=incident)
               if t.pk not in (done.pk, skipped.pk))


def test_reopening_an_outstanding_task_changes_nothing(editor, incident):
    task = task_of(incident)
    before = shown(editor, task)

    assert act(editor, task, "reopen") == before

    assert events(incident, EventKind.TASK_REOPENED) == []
    assert "reopened" not in " ".join(TimelineEvent.objects.filter(incident=incident).values_list("text", flat=True))


def test_reopening_clears_what_addressing_set(editor, incident):
    task = task_of(incident)
    act(editor, task, "not_doing", {"reason": "Later"})

    reopened = act(editor, task, "reopen")

    assert (reopened["state"], reopened["not_doing_reason"], reopened["addressed_at"]) == ("outstanding", "", None)
    assert reopened["completed_automatically"] is False
    stored = LearningTask.objects.get(pk=task.pk)
    assert (stored.not_doing_reason, stored.addressed_at, stored.addressed_by) == ("", None, None)


def test_reopening_an_automatically_completed_task_is_no_longer_automatic(editor, incident, owner, acme, commit,
                                                                          signed_in):
    task = task_of(incident, TaskKind.CREATE_POSTMORTEM)
    commit(postmortem_create, incident=incident, actor=Actor.for_user(owner))
    assert shown(editor, task)["completed_automatically"] is True
    page = signed_in(owner, acme).get(f"/acme/incidents/{incident.public_id}/").content.decode()
    assert page.count('class="badge ok">automatic<') == 1

    reopened = act(editor, task, "reopen")

    assert reopened["completed_automatically"] is False
    assert reopened["state"] == "outstanding" and reopened["addressed_at"] is None
    page = signed_in(owner, acme).get(f"/acme/incidents/{incident.public_id}/").content.decode()
    assert 'class="badge ok">automatic<' not in page
    assert "“Create the post-mortem” reopened" in page


def test_a_reopen_names_its_task_on_the_timeline_and_in_the_webhook(editor, acme, incident, other):
    endpoint = webhooks.endpoint_create(org=acme, url="https://example.com/hooks", events=["learning_task.updated"],
                                        created_by=None)
    task = task_of(incident)
    act(editor, task, "complete")

    act(editor, task, "reopen")

    [event] = events(incident, EventKind.TASK_REOPENED)
    assert event.data["task_id"] == str(task.public_id)
    payloads = [d.payload["data"] for d in WebhookDelivery.objects.filter(endpoint=endpoint).order_by("pk")]
    assert [p["change"]["kind"] for p in payloads] == ["task_completed", "task_reopened"]
    reopened = payloads[1]
    assert reopened["learning_task"] is not None
    assert reopened["learning_task"]["id"] == str(task.public_id)
    assert reopened["learning_task"]["state"] == "outstanding"
    assert reopened["incident"]["id"] == str(incident.public_id)


# --- The reason's limit ----------------------------------------------------------------------------


def test_a_reason_of_exactly_the_limit_is_kept(editor, incident):
    assert limits.REASON == 5_000
    task = task_of(incident)

    body = act(editor, task, "not_doing", {"reason": "x" * limits.REASON})

    assert body["state"] == "not_doing"
    assert body["not_doing_reason"] == "x" * limits.REASON
    assert shown(editor, task)["not_doing_reason"] == "x" * limits.REASON


def test_a_reason_one_over_the_limit_is_refused_and_changes_nothing(editor, incident):
    task = task_of(incident)
    before = shown(editor, task)

    response = editor.post(f"learning_tasks/{task.public_id}/actions/not_doing", {"reason": "x" * (limits.REASON + 1)})

    assert response.status_code == 422
    assert error_fields(response) == ["reason"]
    assert "5000" in response.json()["errors"][0]["message"].replace(",", "")
    assert shown(editor, task) == before
    assert events(incident, EventKind.TASK_NOT_DOING) == []


# --- Assigning, and the DMs it sends ---------------------------------------------------------------


def test_reassigning_to_the_current_assignee_only_pins_the_task(editor, acme, admin, responder, incident, other,
                                                                commit):
    task, before_other = task_of(incident), other_snapshot(other)
    assert shown(editor, task)["assignee"]["email"] == responder.email
    dms_before = [m.pk for m in dms(incident)]

    body = act(editor, task, "assign", {"assignee_id": member_id(acme, responder)})

    assert body["assignee"]["email"] == responder.email
    assert body["assigned_manually"] is True
    assert shown(editor, task)["assigned_manually"] is True
    assert events(incident, EventKind.TASK_ASSIGNED) == []
    assert [m.pk for m in dms(incident)] == dms_before
    # Pinned: the lead changing hands no longer moves it.
    commit(incident_assign_role, incident=incident, actor=Actor.system(), role=lead(acme), user=admin)
    assert shown(editor, task)["assignee"]["email"] == responder.email
    assert shown(editor, task_of(incident, TaskKind.UPDATE_TIMESTAMPS))["assignee"]["email"] == admin.email
    other_unchanged(other, before_other)


def test_a_task_assigned_by_hand_stays_with_that_person_when_the_role_changes_hands(editor, acme, owner, admin,
                                                                                    incident, commit):
    task = task_of(incident)

    act(editor, task, "assign", {"assignee_id": member_id(acme, owner)})
    commit(incident_assign_role, incident=incident, actor=Actor.system(), role=lead(acme), user=admin)

    body = shown(editor, task)
    assert body["assignee"]["email"] == owner.email and body["assigned_manually"] is True
    # The admin's DM names the tasks that followed the role, not the hand-picked one.
    [dm] = [m for m in dms(incident) if m.destination == f"dm:{admin.pk}"]
    assert str(task.public_id) not in dm.data["task_ids"]
    assert task.title not in dm.text


def test_a_real_reassignment_dms_the_new_assignee_naming_the_task(editor, acme, viewer, incident, other):
    task = task_of(incident)
    dms_before = [m.pk for m in dms(incident)]
    other_dms = [m.pk for m in dms(other)]

    act(editor, task, "assign", {"assignee_id": member_id(acme, viewer)})

    new = [m for m in dms(incident) if m.pk not in dms_before]
    assert len(new) == 1
    [dm] = new
    assert dm.destination == f"dm:{viewer.pk}"
    assert task.title in dm.text
    assert dm.data["task_ids"] == [str(task.public_id)]
    [event] = events(incident, EventKind.TASK_ASSIGNED)
    assert event.data == {"task_id": str(task.public_id), "user_id": viewer.pk}
    assert [m.pk for m in dms(other)] == other_dms


def test_unassigning_sends_no_dm(editor, incident):
    task = task_of(incident)
    dms_before = [m.pk for m in dms(incident)]

    body = act(editor, task, "assign", {"assignee_id": None})

    assert body["assignee"] is None and body["assigned_manually"] is True
    assert [m.pk for m in dms(incident)] == dms_before
    assert not OutboxMessage.objects.filter(destination="dm:None").exists()
    [event] = events(incident, EventKind.TASK_ASSIGNED)
    assert "unassigned" in event.text


def test_giving_the_role_back_to_who_holds_its_tasks_sends_no_second_dm(editor, acme, responder, incident, commit):
    """The lead is taken away (the tasks stay with the responder), then given back to the
    responder: the tasks are theirs already, so nobody is told again."""
    [first] = dms(incident)
    assert first.destination == f"dm:{responder.pk}"
    assigned = len(events(incident, EventKind.ROLE_ASSIGNED))

    commit(incident_assign_role, incident=incident, actor=Actor.system(), role=lead(acme), user=None)
    commit(incident_assign_role, incident=incident, actor=Actor.system(), role=lead(acme), user=responder)

    assert len(events(incident, EventKind.ROLE_ASSIGNED)) == assigned + 1  # the lead did change hands
    assert [m.pk for m in dms(incident)] == [first.pk]
    tasks = [shown(editor, t) for t in LearningTask.objects.filter(incident=incident)]
    assert {t["assignee"]["email"] for t in tasks} == {responder.email}
    assert not any(t["assigned_manually"] for t in tasks)
