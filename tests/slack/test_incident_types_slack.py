"""Incident types from Slack, through signed requests and the real Bolt handler:
the declare modal's type select and ``/inc type <name>``."""

from __future__ import annotations

import json

import pytest

from incidentio.incidents.models import EventKind, Incident, IncidentType, TimelineEvent
from incidentio.incidents.services.configuration import incident_type_create
from tests.slack.conftest import VIEWER, reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def security(acme):
    return incident_type_create(org=acme, name="Security")


def _opened_view(slack) -> dict:
    view = slack.fake.calls_to("views.open")[-1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def _block(view, block_id):
    return next((b for b in view["blocks"] if b.get("block_id") == block_id), None)


def _submit(slack, type_id=None):
    values = {"name": {"name": {"type": "plain_text_input", "value": "Leaked keys"}}}
    if type_id is not None:
        values["incident_type"] = {"incident_type": {"type": "static_select", "selected_option": {"value": type_id}}}
    return slack.view_submission("declare_incident", values=values)


def test_with_one_type_the_declare_modal_has_no_type_select(slack, linked, acme):
    reply(slack.command("declare Leaked keys"))
    assert _block(_opened_view(slack), "incident_type") is None
    assert _submit(slack).status_code == 200
    assert Incident.objects.get(org=acme).incident_type.name == "Default"


def test_the_declare_modal_offers_the_types_on_the_default(slack, linked, acme, security):
    reply(slack.command("declare Leaked keys"))
    block = _block(_opened_view(slack), "incident_type")
    default = IncidentType.objects.get(org=acme, is_default=True)
    element = block["element"]
    assert [o["text"]["text"] for o in element["options"]] == ["Default", "Security"]
    assert element["initial_option"]["value"] == str(default.public_id)


def test_declaring_from_the_modal_with_a_type(slack, linked, acme, security):
    response = _submit(slack, str(security.public_id))
    assert response.status_code == 200 and response.content in (b"", b"{}")
    assert Incident.objects.get(org=acme).incident_type == security


@pytest.mark.parametrize("value", ["theirs", "not-an-id"])
def test_another_orgs_or_a_bogus_type_is_an_error_in_the_modal(slack, linked, acme, globex, value):
    if value == "theirs":
        value = str(incident_type_create(org=globex, name="Security").public_id)
    answer = reply(_submit(slack, value))
    assert answer == {"response_action": "errors", "errors": {"incident_type": "Choose one of the types in the list."}}
    assert not Incident.objects.exists()


def test_inc_type_changes_the_type_and_posts_it_to_the_channel(slack, linked, acme, declare, owner, security):
    incident = declare(acme, owner)
    answer = reply(slack.command("type security", channel=incident.slack_channel_id))
    assert answer["text"] == f"{incident.reference} is now of type Security."
    incident.refresh_from_db()
    assert incident.incident_type == security
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.TYPE_CHANGED)
    assert event.text == "Type changed from Default to Security"
    posted = slack.fake.calls_to("chat.postMessage")[-1]
    assert posted.params["channel"] == incident.slack_channel_id
    assert "Type changed from Default to Security" in posted.params["text"]


def test_inc_type_with_an_unknown_name_lists_the_types_and_changes_nothing(slack, linked, acme, declare, owner,
                                                                         globex, security):
    incident_type_create(org=globex, name="Theirs")
    incident = declare(acme, owner)
    answer = reply(slack.command("type theirs", channel=incident.slack_channel_id))
    assert answer["text"] == "Choose one of: Default, Security."
    incident.refresh_from_db()
    assert incident.incident_type.name == "Default"
    assert not TimelineEvent.objects.filter(kind=EventKind.TYPE_CHANGED).exists()


def test_a_viewer_cannot_change_the_type(slack, linked, acme, declare, owner, security):
    incident = declare(acme, owner)
    answer = reply(slack.command("type security", user=VIEWER, channel=incident.slack_channel_id))
    assert "not allowed" in answer["text"]
    incident.refresh_from_db()
    assert incident.incident_type.name == "Default"
