"""Assigning a task is one transaction (issue 23: removing ``@transaction.atomic``
from ``task_assign`` went unnoticed, because every other test runs inside the
test's own transaction).

These tests commit for real (``transaction=True``), as a request in production
does: the assignment works on its own, and when something after the task was
saved fails (queueing the assignee's DM), the whole assignment is rolled back —
the API shows the task as it was, with no timeline entry and no DM.
"""

from __future__ import annotations

import pytest

from incidentio.incidents.models import EventKind, TimelineEvent
from learning.messages import TASK_ASSIGNED
from learning.models import LearningTask, TaskKind
from orgs.models import Membership
from slackbot.models import OutboxMessage
from tests.api_learning.conftest import ApiClient, declare_and_close

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("eager_celery")]


class OutboxDown(Exception):
    """Queueing a Slack message failed (the process edge)."""


@pytest.fixture
def task(acme, owner, responder) -> LearningTask:
    incident = declare_and_close(acme, owner, lead=responder)  # committed: no test transaction here
    return LearningTask.objects.get(incident=incident, kind=TaskKind.REVIEW_TIMELINE)


def assign(editor: ApiClient, task: LearningTask, org, user):
    member = str(Membership.objects.get(org=org, user=user).public_id)
    return editor.post(f"learning_tasks/{task.public_id}/actions/assign", {"assignee_id": member})


def shown(editor: ApiClient, task: LearningTask) -> dict:
    return editor.get(f"learning_tasks/{task.public_id}").json()["learning_task"]


def test_an_assignment_commits_on_its_own(editor, acme, viewer, task):
    response = assign(editor, task, acme, viewer)

    assert response.status_code == 200, response.content
    body = shown(editor, task)
    assert body["assignee"]["email"] == viewer.email and body["assigned_manually"] is True
    assert TimelineEvent.objects.filter(incident=task.incident, kind=EventKind.TASK_ASSIGNED).count() == 1
    assert OutboxMessage.objects.filter(kind=TASK_ASSIGNED, destination=f"dm:{viewer.pk}").count() == 1


def test_a_failure_after_the_task_was_saved_leaves_the_assignment_as_it_was(editor, acme, viewer, responder, task,
                                                                          monkeypatch):
    def outbox_down(**kwargs):
        raise OutboxDown

    monkeypatch.setattr("learning.services.flow.outbox_enqueue", outbox_down)
    before = shown(editor, task)
    assert before["assignee"]["email"] == responder.email and before["assigned_manually"] is False

    with pytest.raises(OutboxDown):
        assign(editor, task, acme, viewer)

    assert shown(editor, task) == before
    assert not TimelineEvent.objects.filter(incident=task.incident, kind=EventKind.TASK_ASSIGNED).exists()
    assert not OutboxMessage.objects.filter(kind=TASK_ASSIGNED, destination=f"dm:{viewer.pk}").exists()
