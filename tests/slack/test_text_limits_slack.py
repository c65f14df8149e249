"""Over-long text through Slack: the same service limits, shown where the
person typed (the modal field, an ephemeral reply), and nothing stored."""

from __future__ import annotations

import pytest

from incidentio.common import limits
from incidentio.incidents.models import EventKind, Incident, TimelineEvent
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
