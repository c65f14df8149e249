"""Over-long text through Slack: the same service limits, shown where the
person typed (the modal field, an ephemeral reply), and nothing stored."""

from __future__ import annotations

import pytest

from incidentio.common import limits
from incidentio.common.actors import Actor
from incidentio.incidents.models import EventKind, Incident, Severity, TimelineEvent
from learning.models import LearningTask, TaskState
from learning.services.flow import incident_close
from tests.slack.conftest import reply

pytestmark = pytest.mark.django_db


def test_declare_modal_with_an_over_long_summary_is_an_error_on_the_summary(slack, linked, acme):
    answer = reply(slack.view_submission("declare_incident", values={
        "name": {"name": {"type": "plain_text_input", "value": "Database latency"}},
        "summary": {"summary": {"type": "plain_text_input", "value": "[" * (limits.INCIDENT_SUMMARY + 1)}},
    }))

    assert answer["response_action"] == "errors"
    assert answer["errors"] == {"summary": "The summary can be at most 20,000 characters; this one has 20,001."}
    assert not Incident.objects.filter(org=acme).exists()
    assert slack.fake.calls_to("conversations.create") == []


def test_an_over_long_update_is_refused_ephemerally(slack, linked, acme, declare, owner):
    incident = declare(acme, owner)

    answer = reply(slack.command(f"update {'x' * (limits.UPDATE_MESSAGE + 1)}", channel=incident.slack_channel_id))

    assert answer["response_type"] == "ephemeral"
    assert "An update can be at most 20,000 characters" in answer["text"]
    assert not TimelineEvent.objects.filter(incident=incident, kind=EventKind.UPDATE_POSTED).exists()


def test_an_over_long_skip_reason_is_refused_ephemerally_and_the_task_stays_outstanding(
    slack, linked, acme, declare, owner, django_capture_on_commit_callbacks
):
    """The slash command hands the reason to the service unchecked: the service's own
    limit (learning/services/tasks.py) is what stops it; exactly the limit is fine."""
    incident = declare(acme, owner, severity=Severity.objects.get(org=acme, name="Minor"))
    with django_capture_on_commit_callbacks(execute=True):
        incident_close(incident=incident, actor=Actor.for_user(owner), learning_flow="run")
    tasks = list(LearningTask.objects.filter(incident=incident).order_by("rank"))

    answer = reply(slack.command(f"skip 1 {'x' * (limits.REASON + 1)}", channel=incident.slack_channel_id))

    assert answer["response_type"] == "ephemeral"
    assert "The reason can be at most 5,000 characters; this one has 5,001." in answer["text"]
    assert LearningTask.objects.get(pk=tasks[0].pk).state == TaskState.OUTSTANDING
    assert not TimelineEvent.objects.filter(incident=incident, kind=EventKind.TASK_NOT_DOING).exists()

    reply(slack.command(f"skip 2 {'x' * limits.REASON}", channel=incident.slack_channel_id))

    skipped = LearningTask.objects.get(pk=tasks[1].pk)
    assert (skipped.state, skipped.not_doing_reason) == (TaskState.NOT_DOING, "x" * limits.REASON)
