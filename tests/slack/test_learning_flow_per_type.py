"""Closing a Security incident in Slack runs the Security flow (tests/learning/security_flow.py):
the close prompt says a rule runs the flow, the button enters it, the task
message names the Security flow's first status and its own task, and the Done
buttons take it through the Security flow's statuses."""

from __future__ import annotations

import json

import pytest

from incidentio.incidents.models import LearningFlowState
from learning.models import LearningRun, LearningTask
from slackbot import blocks as kit
from tests.learning.security_flow import REPORT_TASK, REVIEW_TASK, make_security
from tests.slack.conftest import reply

pytestmark = pytest.mark.django_db


def test_a_security_incident_closed_in_slack_runs_the_security_flow(slack, acme, owner, linked, declare):
    security = make_security(acme)
    incident = declare(acme, owner, incident_type=security.incident_type)  # no severity: Default would ask

    answer = reply(slack.command("close", channel=incident.slack_channel_id))
    assert "matches a rule that runs the learning flow" in json.dumps(answer["blocks"])
    slack.action(kit.CLOSE_RUN_FLOW, value=str(incident.public_id), channel=incident.slack_channel_id)

    incident.refresh_from_db()
    assert incident.status.name == "Security review"
    assert LearningRun.objects.get(incident=incident).flow == security.flow
    posted = [c for c in slack.fake.calls_to("chat.postMessage") if "Security review" in c.params["text"]]
    assert len(posted) == 1 and REVIEW_TASK in posted[0].params["text"]

    for status in ("Security review", "Documenting"):
        for task in LearningTask.objects.filter(incident=incident, status__name=status):
            slack.action(kit.TASK_DONE, value=str(task.public_id), channel=incident.slack_channel_id)
        if status == "Security review":
            incident.refresh_from_db()
            assert incident.status.name == "Documenting"
            assert list(LearningTask.objects.filter(incident=incident, status=incident.status)
                        .values_list("title", flat=True)) == [REPORT_TASK]
    incident.refresh_from_db()
    assert incident.learning_flow == LearningFlowState.COMPLETED
