"""Slack test kit: a fake Slack Web API over HTTP, a connected workspace for
``acme`` with linked members, and signed requests through the real Bolt handler.

``slack.command("/inc status", user=...)`` signs the body with the signing
secret exactly as Slack does (v0 HMAC-SHA256 of ``v0:<timestamp>:<body>``),
posts it to ``/slack/events`` with the Django test client, and runs the
on-commit callbacks (Celery is eager here), so outbox deliveries and queued Web
API calls reach the fake server before the helper returns.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from urllib.parse import urlencode

import pytest
from django.test import Client

from incidentio.common.actors import Actor
from incidentio.incidents.services.incidents import incident_declare
from slackbot.models import SlackUserLink, SlackWorkspace
from tests.slack.fake_slack import FakeSlack, markup_in

SIGNING_SECRET = "test-signing-secret-0123456789"
TEAM = "T0001"
BOT_TOKEN = "xoxb-test-token"
OWNER, ADMIN, RESPONDER, VIEWER, STRANGER = "UOWNER", "UADMIN", "URESP", "UVIEW", "USTRANGER"


@pytest.fixture(autouse=True)
def _eager_celery(eager_celery):
    """Jobs run in-process, after commit, also when REDIS_URL is set (CI):
    these tests are about Slack, the real worker has its own test."""


@pytest.fixture(scope="session")
def fake_slack_server():
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def fake_slack(fake_slack_server, settings):
    fake_slack_server.reset()
    settings.SLACK_API_URL = fake_slack_server.api_url
    settings.SLACK_SIGNING_SECRET = SIGNING_SECRET
    settings.SLACK_CHANNEL_SLOT_SECONDS = 0  # the per-channel limit has its own test
    yield fake_slack_server
    leaks = fake_slack_server.leaks()
    fake_slack_server.reset()
    # Every Slack test also checks that nothing it sent carried special mentions.
    assert not leaks, f"Slack markup went out unescaped: {leaks}"


@pytest.fixture
def workspace(acme, fake_slack):
    return SlackWorkspace.objects.create(org=acme, team_id=TEAM, bot_token=BOT_TOKEN, bot_user_id="UBOT", team_name="Acme")


@pytest.fixture
def linked(workspace, owner, admin, responder, viewer, fake_slack):
    """The cast, known to Slack (by e-mail) and already linked."""
    for slack_id, user in ((OWNER, owner), (ADMIN, admin), (RESPONDER, responder), (VIEWER, viewer)):
        fake_slack.users[slack_id] = user.email
        SlackUserLink.objects.create(org=workspace.org, user=user, slack_user_id=slack_id)
    return {OWNER: owner, ADMIN: admin, RESPONDER: responder, VIEWER: viewer}


def sign(body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict:
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"HTTP_X_SLACK_REQUEST_TIMESTAMP": timestamp, "HTTP_X_SLACK_SIGNATURE": f"v0={digest}"}


class SlackRequests:
    """Builds and sends signed Slack payloads."""

    def __init__(self, fake, capture):
        self.fake = fake
        self.capture = capture
        self.client = Client()
        self._ids = itertools.count(1)

    def post(self, body: str, *, headers: dict | None = None, signed: dict | None = None, capture: bool = True):
        meta = signed if signed is not None else sign(body)
        meta = {**meta, **(headers or {})}
        if not capture:
            return self.client.post("/slack/events", data=body, content_type="application/x-www-form-urlencoded", **meta)
        with self.capture(execute=True):
            response = self.client.post(
                "/slack/events", data=body, content_type="application/x-www-form-urlencoded", **meta
            )
        return response

    def command_body(self, text: str, *, user: str = RESPONDER, channel: str = "CGENERAL", command: str = "/inc",
                     team: str = TEAM) -> str:
        n = next(self._ids)
        return urlencode({
            "token": "legacy", "team_id": team, "team_domain": "acme", "channel_id": channel,
            "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": command,
            "text": text, "api_app_id": "A0001", "response_url": self.fake.response_url(n),
            "trigger_id": f"trigger.{n}.{time.time_ns()}",
        })

    def command(self, text: str, **kwargs):
        return self.post(self.command_body(text, **kwargs))

    def action_body(self, action_id: str, *, value: str = "", user: str = RESPONDER, channel: str = "CGENERAL",
                    block_id: str = "b", selected_user: str | None = None) -> str:
        n = next(self._ids)
        action = {"action_id": action_id, "block_id": block_id, "type": "button", "value": value,
                  "action_ts": f"{time.time():.6f}"}
        if selected_user is not None:
            action = {"action_id": action_id, "block_id": block_id, "type": "users_select",
                      "selected_user": selected_user, "action_ts": f"{time.time():.6f}"}
        payload = {
            "type": "block_actions", "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "name": user.lower(), "team_id": TEAM}, "api_app_id": "A0001",
            "trigger_id": f"trigger.{n}.{time.time_ns()}", "channel": {"id": channel},
            "container": {"type": "message", "channel_id": channel, "message_ts": "1.1"},
            "response_url": self.fake.response_url(n), "actions": [action],
        }
        return urlencode({"payload": json.dumps(payload)})

    def action(self, action_id: str, **kwargs):
        return self.post(self.action_body(action_id, **kwargs))

    def view_submission(self, callback_id: str, *, values: dict, private_metadata: str = "", user: str = RESPONDER):
        payload = {
            "type": "view_submission", "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": user, "name": user.lower(), "team_id": TEAM}, "api_app_id": "A0001",
            "trigger_id": f"trigger.{next(self._ids)}",
            "view": {"id": "V1", "type": "modal", "callback_id": callback_id, "private_metadata": private_metadata,
                     "state": {"values": values}, "hash": str(time.time_ns())},
        }
        return self.post(urlencode({"payload": json.dumps(payload)}))


@pytest.fixture
def slack(fake_slack, django_capture_on_commit_callbacks):
    return SlackRequests(fake_slack, django_capture_on_commit_callbacks)


@pytest.fixture
def declare(django_capture_on_commit_callbacks):
    """Declare an incident in acme the way the dashboard does; its channel is created."""

    def make(org, user, name="Database latency", **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            incident = incident_declare(org=org, actor=Actor.for_user(user), name=name, **kwargs)
        incident.refresh_from_db()
        return incident

    return make


def reply(response) -> dict:
    """The ack's body (a command's ephemeral answer), checked like every payload to Slack."""
    assert response.status_code == 200, response.content
    assert not markup_in(response.content.decode()), response.content
    return json.loads(response.content) if response.content else {}
