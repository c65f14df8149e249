"""Signed requests whose ids or fields are wrong get a clear answer and change nothing.

Slack signs what it sends, but an id in a button's value, a ``block_id`` or a
modal's metadata is still input: not a UUID, gone, garbage JSON, or missing
(another org's is in tests/slack/test_isolation.py, for every listener). Bolt
swallows a listener's exception and still answers, so each case checks the
answer the user sees (the ephemeral reply through the ``response_url``, or the
modal's error), that nothing raised in Bolt (no ERROR log), and that nothing
changed.
"""

from __future__ import annotations

import json
import logging
import uuid
from urllib.parse import parse_qs, urlencode

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, Severity, TimelineEvent
from learning.models import LearningTask
from learning.services.flow import incident_close
from slackbot import blocks as kit
from slackbot.listeners.close import INCIDENT_GONE
from slackbot.listeners.common import MALFORMED
from slackbot.listeners.declare import UNKNOWN_SEVERITY
from slackbot.listeners.tasks import TASK_GONE
from slackbot.models import OutboxMessage
from tests.slack.conftest import reply, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(acme, owner, linked, declare):
    return declare(acme, owner, severity=Severity.objects.get(org=acme, name="Minor"))


@pytest.fixture
def task(live, slack, django_capture_on_commit_callbacks, owner):
    with django_capture_on_commit_callbacks(execute=True):
        incident_close(incident=live, actor=Actor.for_user(owner), learning_flow="run")
    return LearningTask.objects.filter(incident=live).order_by("rank").first()


@pytest.fixture
def snapshot():
    """What a refused request must leave as it was."""

    def take():
        return (
            list(Incident.objects.order_by("pk").values_list("pk", "status_id", "learning_flow", "opt_out_reason")),
            list(LearningTask.objects.order_by("pk").values_list("pk", "state", "assignee_id")),
            TimelineEvent.objects.count(),
            OutboxMessage.objects.count(),
        )

    return take


def _action(slack, action_id: str, change) -> str:
    """A signed block action whose payload ``change`` has edited."""
    body = slack.action_body(action_id, value="placeholder")
    payload = json.loads(parse_qs(body)["payload"][0])
    change(payload)
    return urlencode({"payload": json.dumps(payload)})


def _no_bolt_errors(caplog):
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def _set_value(value):
    def change(payload):
        payload["actions"][0]["value"] = value
    return change


def _drop(*path):
    def change(payload):
        target = payload
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


BAD_VALUES = {
    "not a uuid": _set_value("not-a-uuid"),
    "unknown uuid": _set_value(str(uuid.uuid4())),
    "garbage json": _set_value('{"incident": [1, '),
    "no value": _drop("actions", 0, "value"),
}


@pytest.mark.parametrize("action_id", [kit.TASK_DONE, kit.TASK_NOT_DOING])
@pytest.mark.parametrize("bad", list(BAD_VALUES), ids=list(BAD_VALUES))
def test_a_task_button_with_a_bad_id_answers_and_changes_nothing(slack, task, snapshot, caplog, action_id, bad):
    before = snapshot()
    response = slack.post(_action(slack, action_id, BAD_VALUES[bad]))
    assert response.status_code == 200
    assert slack.fake.calls_to("response_url")[-1].params["text"] == TASK_GONE
    assert snapshot() == before
    _no_bolt_errors(caplog)


@pytest.mark.parametrize("block_id", ["task:not-a-uuid", "task:", "", None], ids=["bad", "empty id", "empty", "none"])
def test_the_assignee_picker_with_a_bad_block_id_answers_and_changes_nothing(slack, task, snapshot, caplog, block_id):
    before = snapshot()
    body = slack.action_body(kit.TASK_ASSIGN, block_id=block_id, selected_user="UADMIN")
    slack.post(body)
    assert slack.fake.calls_to("response_url")[-1].params["text"] == TASK_GONE
    assert snapshot() == before
    _no_bolt_errors(caplog)


def test_a_button_without_actions_or_user_answers_and_changes_nothing(slack, task, snapshot, caplog):
    before = snapshot()
    for change in (_drop("user", "id"), lambda p: p["actions"][0].update(value=None)):
        slack.post(_action(slack, kit.TASK_DONE, change))
    texts = [c.params["text"] for c in slack.fake.calls_to("response_url")]
    assert texts == [MALFORMED, TASK_GONE]
    assert snapshot() == before
    _no_bolt_errors(caplog)


@pytest.mark.parametrize("action_id", [kit.CLOSE_RUN_FLOW, kit.CLOSE_WITHOUT_FLOW])
@pytest.mark.parametrize("bad", list(BAD_VALUES), ids=list(BAD_VALUES))
def test_a_close_button_with_a_bad_id_answers_and_changes_nothing(slack, live, snapshot, caplog, action_id, bad):
    before = snapshot()
    slack.post(_action(slack, action_id, BAD_VALUES[bad]))
    expected = MALFORMED if bad == "no value" else INCIDENT_GONE
    assert slack.fake.calls_to("response_url")[-1].params["text"] == expected
    assert slack.fake.calls_to("views.open") == []
    assert snapshot() == before
    _no_bolt_errors(caplog)


def test_close_without_it_and_no_trigger_id_answers_instead_of_opening_nothing(slack, live, snapshot, caplog):
    before = snapshot()
    slack.post(_action(slack, kit.CLOSE_WITHOUT_FLOW,
                       lambda p: (p["actions"][0].update(value=str(live.public_id)), p.pop("trigger_id"))))
    assert slack.fake.calls_to("response_url")[-1].params["text"] == MALFORMED
    assert slack.fake.calls_to("views.open") == []
    assert snapshot() == before
    _no_bolt_errors(caplog)


REASON = {kit.REASON_BLOCK: {kit.REASON_INPUT: {"value": "No impact"}}}


@pytest.mark.parametrize("metadata,expected", [
    ('{"incident": ', MALFORMED),
    ("[1, 2]", MALFORMED),
    ('"just a string"', MALFORMED),
    ("", INCIDENT_GONE),
    ('{"incident": "not-a-uuid", "mode": "close"}', INCIDENT_GONE),
    ('{"incident": 12, "mode": "opt_out"}', INCIDENT_GONE),
    (json.dumps({"incident": str(uuid.uuid4()), "mode": "close"}), INCIDENT_GONE),
], ids=["garbage", "a list", "a string", "missing", "not a uuid", "a number", "unknown"])
def test_the_reason_modal_with_bad_metadata_shows_an_error_and_changes_nothing(slack, live, snapshot, caplog,
                                                                              metadata, expected):
    before = snapshot()
    answer = reply(slack.view_submission(kit.OPT_OUT_VIEW, private_metadata=metadata, values=REASON))
    assert answer == {"response_action": "errors", "errors": {kit.REASON_BLOCK: expected}}
    assert snapshot() == before
    _no_bolt_errors(caplog)


def test_the_reason_modal_with_a_malformed_state_asks_for_the_reason(slack, live, snapshot, caplog):
    before = snapshot()
    metadata = json.dumps({"incident": str(live.public_id), "mode": "close"})
    for values in ({kit.REASON_BLOCK: "not an object"}, {kit.REASON_BLOCK: {kit.REASON_INPUT: {"value": 42}}}):
        answer = reply(slack.view_submission(kit.OPT_OUT_VIEW, private_metadata=metadata, values=values))
        assert answer["response_action"] == "errors" and kit.REASON_BLOCK in answer["errors"]
    assert snapshot() == before
    _no_bolt_errors(caplog)


@pytest.mark.parametrize("severity", ["not-a-uuid", str(uuid.uuid4())], ids=["bad", "unknown"])
def test_declaring_with_a_bad_severity_is_an_error_in_the_modal(slack, linked, snapshot, caplog, severity):
    before = snapshot()
    answer = reply(slack.view_submission(kit.DECLARE_VIEW, values={
        "name": {"name": {"type": "plain_text_input", "value": "Disk full"}},
        "severity": {"severity": {"type": "static_select", "selected_option": {"value": severity}}},
    }))
    assert answer == {"response_action": "errors", "errors": {"severity": UNKNOWN_SEVERITY}}
    assert snapshot() == before
    _no_bolt_errors(caplog)


@pytest.mark.parametrize("text", ["status INC-99999999999999999999", "close INC-0x1f", "done 99999999999999999999"])
def test_commands_with_malformed_references_answer_clearly(slack, live, snapshot, caplog, text):
    before = snapshot()
    answer = reply(slack.command(text, channel=live.slack_channel_id))
    assert answer["response_type"] == "ephemeral"
    assert "There is no" in answer["text"] or "Give a task number" in answer["text"] or "no learning tasks" in answer["text"]
    assert snapshot() == before
    _no_bolt_errors(caplog)


def test_a_command_without_a_user_or_trigger_answers_clearly(slack, live, snapshot, caplog):
    before = snapshot()
    for field, text in (("user_id", "update hello"), ("trigger_id", "declare Disk full")):
        body = {k: v[0] for k, v in parse_qs(slack.command_body(text, channel=live.slack_channel_id)).items()}
        del body[field]
        assert reply(slack.post(urlencode(body)))["text"] == MALFORMED
    assert slack.fake.calls_to("views.open") == []
    assert snapshot() == before
    _no_bolt_errors(caplog)


@pytest.mark.parametrize("actions", [[], None, "junk", [{"value": "x"}], ["junk"]],
                         ids=["empty", "null", "a string", "no action_id", "not objects"])
def test_a_block_action_bolt_cannot_parse_answers_instead_of_a_500(slack, task, snapshot, caplog, actions):
    """Bolt itself indexes ``actions[0]["action_id"]``: the app answers before it does."""
    before = snapshot()
    response = slack.post(_action(slack, kit.TASK_DONE, lambda p: p.update(actions=actions)))
    assert response.status_code == 200
    assert slack.fake.calls_to("response_url")[-1].params["text"] == MALFORMED
    assert snapshot() == before
    _no_bolt_errors(caplog)


@pytest.mark.parametrize("payload", [
    {"type": "view_submission", "view": "callback_id"},
    {"type": "view_submission", "view": None},
    {"type": "view_submission", "view": {"callback_id": kit.OPT_OUT_VIEW}},
], ids=["view a string", "view null", "view without type"])
def test_a_view_bolt_cannot_parse_is_not_a_500(slack, live, snapshot, caplog, payload):
    before = snapshot()
    body = {"team": {"id": "T0001"}, "user": {"id": "URESP", "team_id": "T0001"}, "api_app_id": "A0001",
            "team_id": "T0001", **payload}
    response = slack.post(urlencode({"payload": json.dumps(body)}))
    assert response.status_code == 200
    assert snapshot() == before
    _no_bolt_errors(caplog)


@pytest.mark.parametrize("event", ["app_uninstalled", None, [], 5, {"type": 5}],
                         ids=["a string", "null", "a list", "a number", "a type that is not a string"])
def test_an_event_bolt_cannot_parse_is_not_a_500(slack, live, snapshot, caplog, event):
    """Bolt reads ``event["type"]`` to match listeners; an event that is not an object is answered, not a 500."""
    before = snapshot()
    body = json.dumps({"type": "event_callback", "team_id": "T0001", "api_app_id": "A0001", "event": event})
    response = slack.client.post("/slack/events", data=body, content_type="application/json", **sign(body))
    assert response.status_code == 200
    assert snapshot() == before
    _no_bolt_errors(caplog)


def test_an_unsigned_event_bolt_cannot_parse_is_still_refused(slack, live, snapshot):
    before = snapshot()
    body = json.dumps({"type": "event_callback", "team_id": "T0001", "api_app_id": "A0001", "event": None})
    response = slack.client.post("/slack/events", data=body, content_type="application/json",
                                 **sign(body, secret="not-the-secret"))
    assert response.status_code == 401
    assert snapshot() == before
