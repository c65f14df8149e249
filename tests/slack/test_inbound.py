"""Signed requests through the real Bolt handler: signature checks, /inc, people."""

from __future__ import annotations

import json
import time

import pytest

from incidentio.incidents.models import EventKind, Incident, Severity, TimelineEvent
from orgs.models import Membership, Role
from slackbot.models import OutboxMessage, SlackUserLink
from tests.factories import UserFactory
from tests.slack.conftest import RESPONDER, STRANGER, VIEWER, reply, sign

pytestmark = pytest.mark.django_db


def test_bad_signature_is_401_and_changes_nothing(slack, linked, acme):
    body = slack.command_body("declare Disk full")
    response = slack.post(body, signed=sign(body, secret="not-the-secret"))
    assert response.status_code == 401
    assert slack.fake.calls == []
    assert not Incident.objects.exists()


def test_timestamp_older_than_five_minutes_is_401(slack, linked):
    body = slack.command_body("help")
    response = slack.post(body, signed=sign(body, timestamp=int(time.time()) - 6 * 60))
    assert response.status_code == 401


def test_without_a_signing_secret_everything_is_refused(slack, linked, settings):
    settings.SLACK_SIGNING_SECRET = None
    body = slack.command_body("help")
    assert slack.post(body, signed=sign(body, secret="")).status_code == 401


def test_get_is_not_allowed(client, fake_slack):
    assert client.get("/slack/events").status_code == 405


def test_help_lists_the_commands(slack, linked):
    answer = reply(slack.command("help"))
    assert answer["response_type"] == "ephemeral"
    assert "/inc declare" in answer["text"] and "/inc optout" in answer["text"]
    assert reply(slack.command("", command="/incident"))["text"] == answer["text"]


def test_unknown_workspace_changes_nothing(slack, linked):
    response = slack.command("update hello", team="T9999")
    assert response.status_code == 200
    assert not TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED).exists()


def test_unmapped_slack_user_gets_an_explanation_and_nothing_changes(slack, linked, acme, declare, owner):
    incident = declare(acme, owner)
    answer = reply(slack.command("update hello", user=STRANGER, channel=incident.slack_channel_id))
    assert "can't tell which" in answer["text"]
    assert not TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED).exists()


def test_an_unmapped_user_is_looked_up_once_not_on_every_command(slack, linked, acme, declare, owner):
    incident = declare(acme, owner)
    for _ in range(3):
        reply(slack.command("update hello", user=STRANGER, channel=incident.slack_channel_id))
    assert len([c for c in slack.fake.calls_to("users.info") if STRANGER in str(c)]) == 1


def test_a_slack_outage_during_the_lookup_is_not_remembered_as_unmapped(slack, workspace, acme, declare, owner):
    """users.info failing (5xx) turns the command away once; the next one, with
    Slack back, maps the member instead of refusing them for minutes."""
    person = UserFactory(email="blip@acme.test")
    Membership.objects.create(org=acme, user=person, role=Role.RESPONDER)
    slack.fake.users["UBLIP"] = "blip@acme.test"
    incident = declare(acme, owner)
    slack.fake.fail("users.info", status=503)
    first = reply(slack.command("update first", user="UBLIP", channel=incident.slack_channel_id))
    assert "can't tell which" in first["text"]
    reply(slack.command("update second", user="UBLIP", channel=incident.slack_channel_id))
    assert SlackUserLink.objects.get(org=acme, slack_user_id="UBLIP").user == person
    assert TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED, actor_user=person).count() == 1


def test_a_slack_user_is_mapped_by_email_once(slack, workspace, acme, declare, owner):
    person = UserFactory(email="new.person@acme.test")
    Membership.objects.create(org=acme, user=person, role=Role.RESPONDER)
    slack.fake.users["UNEW"] = "New.Person@acme.test"
    incident = declare(acme, owner)
    reply(slack.command("update first", user="UNEW", channel=incident.slack_channel_id))
    reply(slack.command("update second", user="UNEW", channel=incident.slack_channel_id))
    assert SlackUserLink.objects.get(org=acme, slack_user_id="UNEW").user == person
    assert len(slack.fake.calls_to("users.info")) == 1
    assert TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED, actor_user=person).count() == 2


def test_viewer_is_not_allowed(slack, linked, acme, declare, owner):
    incident = declare(acme, owner)
    answer = reply(slack.command("update hello", user=VIEWER, channel=incident.slack_channel_id))
    assert "not allowed" in answer["text"]
    assert not TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED).exists()
    # Reading is fine.
    assert incident.reference in reply(slack.command("status", user=VIEWER, channel=incident.slack_channel_id))["text"]


def test_declare_opens_a_modal_and_its_submission_creates_the_channel(slack, linked, acme, responder):
    reply(slack.command("declare Database latency"))
    opened = slack.fake.calls_to("views.open")
    assert len(opened) == 1
    view = opened[0].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "declare_incident"
    assert opened[0].params["trigger_id"].startswith("trigger.")
    critical = Severity.objects.get(org=acme, name="Critical")

    response = slack.view_submission("declare_incident", values={
        "name": {"name": {"type": "plain_text_input", "value": "Database latency"}},
        "summary": {"summary": {"type": "plain_text_input", "value": "p99 at 3 s"}},
        "severity": {"severity": {"type": "static_select", "selected_option": {"value": str(critical.public_id)}}},
    })
    assert response.status_code == 200 and response.content in (b"", b"{}")
    incident = Incident.objects.get(org=acme)
    assert (incident.name, incident.summary, incident.severity) == ("Database latency", "p99 at 3 s", critical)
    assert incident.created_by == responder
    created = slack.fake.calls_to("conversations.create")
    assert created[0].params["name"] == f"inc-{incident.number}-database-latency"
    assert incident.slack_channel_id.startswith("C")
    assert slack.fake.calls_to("conversations.invite")[0].params["users"] == RESPONDER
    announcement = slack.fake.calls_to("chat.postMessage")[0]
    assert announcement.params["channel"] == incident.slack_channel_id
    assert "Database latency" in announcement.params["text"]
    declared = TimelineEvent.objects.get(incident=incident, kind=EventKind.DECLARED)
    assert declared.slack_permalink.startswith("https://acme.slack.com/archives/")


def test_declare_modal_without_a_name_is_an_error_in_the_modal(slack, linked):
    answer = reply(slack.view_submission("declare_incident", values={"name": {"name": {"value": " "}}}))
    assert answer == {"response_action": "errors", "errors": {"name": "Give the incident a name."}}
    assert not Incident.objects.exists()


def test_status_in_the_channel_and_by_reference_elsewhere(slack, linked, acme, declare, owner):
    incident = declare(acme, owner)
    assert "Status: Investigating" in reply(slack.command("status", channel=incident.slack_channel_id))["text"]
    assert incident.name in reply(slack.command(f"status {incident.reference}"))["text"]
    assert "INC-12" in reply(slack.command("status"))["text"]  # says how


def test_update_is_on_the_timeline_and_posted_to_the_channel(slack, linked, acme, declare, owner):
    incident = declare(acme, owner)
    answer = reply(slack.command("update Rolled back the deploy", channel=incident.slack_channel_id))
    assert "Update posted" in answer["text"]
    event = TimelineEvent.objects.get(incident=incident, kind=EventKind.UPDATE_POSTED)
    assert (event.text, event.actor_ref, event.actor_kind) == ("Rolled back the deploy", RESPONDER, "slack_user")
    posted = slack.fake.calls_to("chat.postMessage")[-1]
    assert posted.params["channel"] == incident.slack_channel_id
    assert "Rolled back the deploy" in posted.params["text"]
    event.refresh_from_db()
    assert event.slack_permalink  # "Slack message →"


def test_severity_and_lead(slack, linked, acme, declare, owner, admin):
    incident = declare(acme, owner)
    reply(slack.command("severity major", channel=incident.slack_channel_id))
    incident.refresh_from_db()
    assert incident.severity.name == "Major"
    assert "Choose one of" in reply(slack.command("severity huge", channel=incident.slack_channel_id))["text"]
    answer = reply(slack.command("lead <@UADMIN|admin>", channel=incident.slack_channel_id))
    assert "is now Incident Lead" in answer["text"]
    assert incident.role_assignments.get(role__kind="lead").user == admin
    assert "isn't a member" in reply(slack.command(f"lead <@{STRANGER}>", channel=incident.slack_channel_id))["text"]


def test_duplicate_deliveries_of_one_command_apply_once(slack, linked, acme, declare, owner):
    incident = declare(acme, owner)
    body = slack.command_body("update Once only", channel=incident.slack_channel_id)
    posts_before = len(slack.fake.calls_to("chat.postMessage"))
    for retry in range(4):
        headers = {"HTTP_X_SLACK_RETRY_NUM": str(retry), "HTTP_X_SLACK_RETRY_REASON": "http_timeout"} if retry else {}
        assert slack.post(body, headers=headers).status_code == 200
    assert TimelineEvent.objects.filter(kind=EventKind.UPDATE_POSTED, text="Once only").count() == 1
    assert OutboxMessage.objects.filter(kind="incident.update_posted").count() == 1
    assert len(slack.fake.calls_to("chat.postMessage")) == posts_before + 1


def test_an_unknown_subcommand_shows_help(slack, linked):
    assert "I don't know `frobnicate`" in reply(slack.command("frobnicate"))["text"]
