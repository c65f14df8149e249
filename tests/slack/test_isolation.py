"""Tenant isolation matrix for Slack, checked against the registered Bolt listeners.

Like the dashboard's (tests/security/test_dashboard_isolation.py) and the
API's (tests/api/test_isolation.py): every Slack entry point that names an
object (a slash command with ``INC-n`` or run in an incident's channel, the
task and close buttons, the assignee picker, the reason and declare modals)
is sent, signed, from acme's workspace carrying globex's id, reference or
channel. The user sees exactly what a missing one gets (the reference aside),
and nothing changes anywhere, nor is a modal opened.

``test_every_registered_listener_is_in_the_matrix`` matches every listener
the app registers (``slackbot.app.build_app``) against the matrix's requests,
and every ``/inc`` subcommand is in it unless it names no incident: a
listener or subcommand added later without a case here fails the build.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import parse_qs, urlencode

import pytest
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, IncidentRoleAssignment, Severity, TimelineEvent
from learning.models import LearningTask
from learning.services.flow import incident_close
from slackbot import blocks as kit
from slackbot.app import build_app
from slackbot.listeners.commands import SUBCOMMANDS
from slackbot.models import OutboxMessage, SlackWorkspace
from tests.slack.conftest import RESPONDER, TEAM, SlackRequests

pytestmark = pytest.mark.django_db

#: Subcommands that name no incident (``/inc declare Disk full`` takes a name).
NO_INCIDENT = {"help", "declare", "new"}
#: What follows the reference, so that a request that found the incident would change it.
ARGUMENTS = {"severity": "Critical", "lead": f"<@{RESPONDER}|resp>", "done": "1", "skip": "1 pwned",
             "assign": f"1 <@{RESPONDER}|resp>", "tasks": "", "status": "", "close": ""}
MISSING_REFERENCE = "INC-999"
MISSING_CHANNEL = "CNOWHERE"


@dataclass(frozen=True)
class Case:
    """One entry point; each of ``bodies(slack, ids)`` is a signed request naming ``ids``' objects."""

    name: str
    bodies: list[Callable[[SlackRequests, dict], str]]


def _command(command: str, sub: str, *, named: str | None, channel: str) -> Callable:
    def body(slack, ids):
        text = " ".join(filter(None, [sub, ids[named] if named else "", ARGUMENTS.get(sub, "pwned")]))
        return slack.command_body(text, command=command, channel=ids.get(channel, channel))
    return body


def _command_case(command: str, sub: str) -> Case:
    return Case(f"{command} {sub}", [
        # Named outside any incident channel, and in acme's own: the name wins over the channel.
        *(_command(command, sub, named=named, channel=channel)
          for named in ("live_ref", "flow_ref") for channel in ("CGENERAL", "own_channel")),
        # No name: the incident of the channel it runs in.
        _command(command, sub, named=None, channel="channel"),
    ])


def _action(action_id: str, key: str) -> Callable:
    return lambda slack, ids: slack.action_body(action_id, value=ids[key])


def _assignee_picker(slack, ids):
    return slack.action_body(kit.TASK_ASSIGN, block_id=f"task:{ids['task']}", selected_user=RESPONDER)


def _reminder(action_id: str) -> Callable:
    return lambda slack, ids: slack.action_body(action_id, value=f"task:{ids['task']}")


def _reminder_date_picker(slack, ids):
    body = json.loads(parse_qs(slack.action_body(kit.REMINDER_SNOOZE_DATE))["payload"][0])
    body["actions"] = [{"action_id": kit.REMINDER_SNOOZE_DATE, "block_id": f"reminder:task:{ids['task']}",
                        "type": "datepicker", "selected_date": str(date.today() + timedelta(days=3)), "action_ts": "1.1"}]
    return urlencode({"payload": json.dumps(body)})


def _view(callback_id: str, *, values: Callable[[dict], dict], metadata: Callable[[dict], str] = lambda ids: ""):
    def body(slack, ids):
        payload = {
            "type": "view_submission", "team": {"id": TEAM, "domain": "acme"},
            "user": {"id": RESPONDER, "name": "resp", "team_id": TEAM}, "api_app_id": "A0001",
            "trigger_id": f"trigger.{uuid.uuid4().hex}",
            "view": {"id": "V1", "type": "modal", "callback_id": callback_id, "private_metadata": metadata(ids),
                     "state": {"values": values(ids)}, "hash": uuid.uuid4().hex},
        }
        return urlencode({"payload": json.dumps(payload)})
    return body


REASON = {kit.REASON_BLOCK: {kit.REASON_INPUT: {"value": "pwned"}}}


def _declare_values(ids):
    return {"name": {"name": {"type": "plain_text_input", "value": "pwned"}},
            "severity": {"severity": {"type": "static_select", "selected_option": {"value": ids["severity"]}}}}


def _cases() -> list[Case]:
    return [
        *(_command_case("/inc", sub) for sub in sorted(set(SUBCOMMANDS) - NO_INCIDENT)),
        _command_case("/incident", "status"),  # the same handler under its other name
        Case(kit.CLOSE_RUN_FLOW, [_action(kit.CLOSE_RUN_FLOW, "live")]),
        Case(kit.CLOSE_WITHOUT_FLOW, [_action(kit.CLOSE_WITHOUT_FLOW, "live")]),
        Case(kit.TASK_DONE, [_action(kit.TASK_DONE, "task")]),
        Case(kit.TASK_NOT_DOING, [_action(kit.TASK_NOT_DOING, "task")]),
        Case(kit.TASK_ASSIGN, [_assignee_picker]),
        *(Case(action_id, [_reminder(action_id)])
          for action_id in (kit.REMINDER_DONE, kit.REMINDER_SNOOZE_DAY, kit.REMINDER_SNOOZE_WEEK)),
        Case(kit.REMINDER_SNOOZE_DATE, [_reminder_date_picker]),
        Case(kit.OPT_OUT_VIEW, [
            _view(kit.OPT_OUT_VIEW, values=lambda ids: REASON,
                  metadata=lambda ids: json.dumps({"incident": ids["live"], "mode": "close"})),
            _view(kit.OPT_OUT_VIEW, values=lambda ids: REASON,
                  metadata=lambda ids: json.dumps({"incident": ids["flow"], "mode": "opt_out"})),
        ]),
        Case(kit.DECLARE_VIEW, [_view(kit.DECLARE_VIEW, values=_declare_values)]),
    ]


CASES = _cases()

#: Listeners that take no object: the app's own lifecycle events.
NO_OBJECT = [
    json.dumps({"type": "event_callback", "team_id": TEAM, "event": {"type": event}})
    for event in ("app_uninstalled", "tokens_revoked")
]


def _missing_ids() -> dict[str, str]:
    return {"live": str(uuid.uuid4()), "flow": str(uuid.uuid4()), "task": str(uuid.uuid4()),
            "severity": str(uuid.uuid4()), "live_ref": MISSING_REFERENCE, "flow_ref": MISSING_REFERENCE,
            "channel": MISSING_CHANNEL}


def _world(org, user, declare, capture) -> dict[str, str]:
    """A live incident and one in the learning flow (with tasks), each with its channel."""
    live = declare(org, user, name="Live one", severity=Severity.objects.get(org=org, name="Minor"))
    flow = declare(org, user, name="In the flow")
    with capture(execute=True):
        incident_close(incident=flow, actor=Actor.for_user(user), learning_flow="run")
    task = LearningTask.objects.filter(incident=flow).order_by("rank").first()
    assert task is not None and live.slack_channel_id, "the world needs tasks and channels"
    return {"live": str(live.public_id), "flow": str(flow.public_id), "task": str(task.public_id),
            "severity": str(Severity.objects.filter(org=org).first().public_id),
            "live_ref": live.reference, "flow_ref": flow.reference, "channel": live.slack_channel_id}


@pytest.fixture
def ours(acme, owner, linked, declare, django_capture_on_commit_callbacks):
    return _world(acme, owner, declare, django_capture_on_commit_callbacks)


@pytest.fixture
def theirs(globex, outsider, fake_slack, declare, django_capture_on_commit_callbacks):
    """Globex, with its own workspace; its incidents are numbered past acme's."""
    SlackWorkspace.objects.create(org=globex, team_id="T0GLOBEX", bot_token="xoxb-globex", bot_user_id="UBOT2")
    for n in range(3):
        declare(globex, outsider, name=f"Filler {n}")
    return _world(globex, outsider, declare, django_capture_on_commit_callbacks)


def _snapshot() -> tuple:
    """Everything a request that found an object could change, in every org."""
    return (
        list(Incident.objects.order_by("pk").values_list(
            "pk", "name", "summary", "status_id", "severity_id", "learning_flow", "opt_out_reason", "closed_at")),
        list(LearningTask.objects.order_by("pk").values_list("pk", "state", "assignee_id", "not_doing_reason",
                                                                 "snoozed_until")),
        list(IncidentRoleAssignment.objects.order_by("pk").values_list("pk", "incident_id", "role_id", "user_id")),
        TimelineEvent.objects.count(),
        OutboxMessage.objects.count(),
    )


def _answer(slack: SlackRequests, body: str) -> dict:
    """What the Slack user sees: the ack's body and the ephemeral replies."""
    before = len(slack.fake.calls_to("response_url"))
    response = slack.post(body)
    assert response.status_code == 200, response.content
    said = [call.params.get("text") for call in slack.fake.calls_to("response_url")[before:]]
    return {"ack": response.content.decode(), "said": said}


def test_the_matrix_has_entry_points_to_check():
    names = {case.name for case in CASES}
    assert sum(len(case.bodies) for case in CASES) > 50
    assert {kit.CLOSE_RUN_FLOW, kit.CLOSE_WITHOUT_FLOW, kit.TASK_DONE, kit.TASK_NOT_DOING, kit.TASK_ASSIGN,
            kit.DECLARE_VIEW, kit.OPT_OUT_VIEW, "/inc close", "/inc done", "/inc optout", "/incident status"} <= names
    assert NO_INCIDENT < set(SUBCOMMANDS), "a subcommand named in NO_INCIDENT no longer exists"


def test_every_registered_listener_is_in_the_matrix(fake_slack):
    """Each listener the app registers answers at least one of the matrix's requests (or is a lifecycle event)."""
    slack = SlackRequests(fake_slack, capture=None)
    ids = _missing_ids() | {"own_channel": "COWN"}
    requests = [BoltRequest(body=body(slack, ids), headers={"content-type": "application/x-www-form-urlencoded"})
                for case in CASES for body in case.bodies]
    lifecycle = [BoltRequest(body=body, headers={"content-type": "application/json"}) for body in NO_OBJECT]
    listeners = build_app()._listeners  # Bolt keeps no public list of them
    assert len(listeners) >= 9
    uncovered = [
        listener.ack_function.__name__ for listener in listeners
        if not any(listener.matches(req=req, resp=BoltResponse(status=200)) for req in requests + lifecycle)
    ]
    assert not uncovered, f"Slack listeners no isolation case reaches: add them to _cases(): {uncovered}"


def _masked(answer: dict, *references: str) -> dict:
    text = json.dumps(answer)
    for reference in references:
        text = text.replace(reference, "<reference>")
    return json.loads(text)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_another_orgs_object_is_not_found_like_a_missing_one(case, slack, ours, theirs):
    own_channel = {"own_channel": ours["channel"]}
    not_found = []
    for n, body in enumerate(case.bodies):
        before = _snapshot()
        foreign = _masked(_answer(slack, body(slack, theirs | own_channel)), theirs["live_ref"], theirs["flow_ref"])
        missing = _masked(_answer(slack, body(slack, _missing_ids() | own_channel)), MISSING_REFERENCE)
        assert foreign == missing, f"{case.name} #{n}: another org's object answers unlike a missing one"
        assert _snapshot() == before, f"{case.name} #{n} changed something"
        assert slack.fake.calls_to("views.open") == [], f"{case.name} #{n} opened a modal"
        not_found.append(missing)
    # …while acme's own objects are found, so the answers above are the org check at work.
    for n, (body, missing) in enumerate(zip(case.bodies, not_found, strict=True)):
        own = _masked(_answer(slack, body(slack, ours | own_channel)), ours["live_ref"], ours["flow_ref"])
        assert own != missing, f"{case.name} #{n}: acme's own object gets the not-found answer too"
