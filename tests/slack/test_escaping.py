"""User text reaches Slack escaped, in every kind of message the app sends.

Every name a user can choose in acme (the org, people, severities, statuses,
roles, task titles and instructions) and every text they write (incident name,
summary, updates, reasons, command arguments) carries each special form of
Slack markup. Each message kind is driven through its real entry point (signed
requests through Bolt, or the services the dashboard calls) and delivered by
the outbox to the fake Slack over HTTP; then no payload Slack received, and no
command answer, may carry the markup unescaped, the escaped text must be there
(so the user text really was sent), and our own mentions and links still work.

A new kind of message: add a scenario to ``KINDS``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from django.conf import settings

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentRole, IncidentStatus, RoleKind, Severity
from incidentio.incidents.services.incidents import incident_assign_role, incident_edit, incident_post_update
from learning.models import LearningTask, TaskTemplate
from learning.services.tasks import task_assign
from orgs.models import Role
from slackbot import blocks as kit
from slackbot.formatting import escape
from tests.factories import MembershipFactory, UserFactory
from tests.slack.conftest import ADMIN, OWNER, RESPONDER, STRANGER, reply
from tests.slack.fake_slack import markup_in

pytestmark = pytest.mark.django_db

#: Every special form: broadcasts, a user, a channel, a user group, a disguised link, and "&".
EVIL = ("<!channel> <!here> <!everyone> <@U999> <#C999> <!subteam^S1> "
        "<https://evil.example|https://status.acme.com> & co")
#: For names limited to 60 characters (severities, statuses, roles).
SHORT = "<!here> <@U999> <https://evil.example|x> &"
#: What must never reach Slack as markup.
FORBIDDEN = ("<!", "<@U999", "<#C999", "<https://evil")


@dataclass
class Env:
    slack: object
    acme: object
    owner: object
    mallory: object  # a member without a Slack user: shown by name
    declare: object
    capture: object
    replies: list = field(default_factory=list)
    _incident: object = None

    def command(self, text: str, **kwargs) -> dict:
        if "channel" not in kwargs:
            kwargs["channel"] = self.incident.slack_channel_id
        answer = reply(self.slack.command(text, **kwargs))
        self.replies.append(answer)
        return answer

    def commit(self, change, **kwargs):
        """A change made the dashboard's way; its messages are delivered on commit."""
        with self.capture(execute=True):
            return change(**kwargs)

    @property
    def incident(self):
        if self._incident is None:
            self._incident = self.declare(self.acme, self.owner, name=EVIL, summary=EVIL,
                                          severity=Severity.objects.get(org=self.acme, rank=0), lead=self.owner)
        self._incident.refresh_from_db()
        return self._incident

    def in_flow(self):
        channel = self.incident.slack_channel_id
        self.slack.action(kit.CLOSE_RUN_FLOW, value=str(self.incident.public_id), channel=channel)
        return list(LearningTask.objects.filter(incident=self.incident, status=self.incident.status).order_by("rank"))


@pytest.fixture
def env(slack, linked, acme, owner, admin, responder, declare, django_capture_on_commit_callbacks):
    acme.name = SHORT
    acme.save()
    for user in (owner, admin, responder):
        user.name = EVIL
        user.save()
    for model in (Severity, IncidentStatus, IncidentRole):
        for n, row in enumerate(model.objects.filter(org=acme)):
            row.name = f"{SHORT} {n}"
            row.save()
    TaskTemplate.objects.filter(org=acme).update(title=EVIL, instructions=EVIL)
    mallory = MembershipFactory(org=acme, role=Role.RESPONDER, user=UserFactory(name=EVIL, email="m@acme.test")).user
    return Env(slack, acme, owner, mallory, declare, django_capture_on_commit_callbacks)


# --- the message kinds: each returns our own markup that must still be there -----------


def declared_from_slack(env):
    env.slack.view_submission(kit.DECLARE_VIEW, values={
        "name": {"name": {"type": "plain_text_input", "value": EVIL}},
        "summary": {"summary": {"type": "plain_text_input", "value": EVIL}},
    })
    return [f"<@{RESPONDER}>"]  # "declared by"


def declared_from_the_dashboard(env):
    assert env.incident.slack_channel_id
    return []


def update_from_slack(env):
    assert "Update posted" in env.command(f"update {EVIL}")["text"]
    return [f"<@{RESPONDER}>"]


def update_from_the_dashboard(env):
    env.commit(incident_post_update, incident=env.incident, actor=Actor.for_user(env.owner), message=EVIL)
    return []


def severity_changed(env):
    name = Severity.objects.filter(org=env.acme).order_by("-rank").first().name
    assert "is now" in env.command(f"severity {name}")["text"]
    assert "Choose one of" in env.command("severity none-such")["text"]
    return [f"<@{RESPONDER}>"]


def status_changed(env):
    fixing = IncidentStatus.objects.filter(org=env.acme, category="live").exclude(pk=env.incident.status_id).first()
    env.commit(incident_edit, incident=env.incident, actor=Actor.for_user(env.owner), status=fixing)
    return []


def lead_changed(env):
    assert "is now" in env.command(f"lead <@{ADMIN}>")["text"]
    return [f"<@{ADMIN}>"]


def status_command(env):
    lead = IncidentRole.objects.get(org=env.acme, kind=RoleKind.LEAD)
    env.commit(incident_assign_role, incident=env.incident, actor=Actor.for_user(env.owner), role=lead,
               user=env.mallory)
    assert env.incident.reference in env.command("status")["text"]
    return []


def close_without_the_flow(env):
    prompt = env.command("close")
    assert "Run the learning flow?" in json.dumps(prompt["blocks"])
    env.slack.action(kit.CLOSE_WITHOUT_FLOW, value=str(env.incident.public_id), channel=env.incident.slack_channel_id)
    view = env.slack.fake.calls_to("views.open")[-1].params["view"]
    metadata = (json.loads(view) if isinstance(view, str) else view)["private_metadata"]
    env.slack.view_submission(kit.OPT_OUT_VIEW, private_metadata=metadata,
                              values={kit.REASON_BLOCK: {kit.REASON_INPUT: {"value": EVIL}}})
    assert env.incident.learning_flow == "opted_out"
    return [f"<@{RESPONDER}>"]  # "Incident closed (<@URESP>)"


def task_message_and_dm(env):
    env.in_flow()
    assert env.slack.fake.posts_in(f"D{OWNER}")  # the lead's tasks, by DM
    return [f"<@{OWNER}>"]  # "Assignee: <@UOWNER>"


def task_commands(env):
    tasks = env.in_flow()
    assert "Documenting" not in env.command("tasks")["text"]  # the status has a user's name now
    assert "is done" in env.command("done 1")["text"]
    assert "not doing" in env.command(f"skip 2 {EVIL}")["text"]
    assert "assigned to" in env.command(f"assign 3 <@{ADMIN}>")["text"]
    assert ":warning:" in env.command(f"assign 1 <@{ADMIN}>")["text"]  # a ServiceError quoting the title
    env.commit(task_assign, task=tasks[3], actor=Actor.for_user(env.owner), user=env.mallory)
    return [f"<@{ADMIN}>"]


def task_buttons(env):
    tasks = env.in_flow()
    channel = env.incident.slack_channel_id
    env.slack.action(kit.TASK_NOT_DOING, value=str(tasks[0].public_id), channel=channel)
    env.slack.action(kit.TASK_ASSIGN, block_id=f"task:{tasks[1].public_id}", selected_user="<!channel>",
                     channel=channel)
    assert "isn't a member" in env.slack.fake.calls_to("response_url")[-1].params["text"]
    return []


def opted_out_of_the_flow(env):
    env.in_flow()
    assert "left the learning flow" in env.command(f"optout {EVIL}")["text"]
    return []


def flow_completed(env):
    env.in_flow()
    for _ in range(2):  # both learning statuses
        incident = env.incident
        for task in LearningTask.objects.filter(incident=incident, status=incident.status, state="outstanding"):
            env.slack.action(kit.TASK_DONE, value=str(task.public_id), channel=incident.slack_channel_id)
    assert env.incident.learning_flow == "completed"
    return []


def echoed_arguments(env):
    assert "I don't know" in env.command("<!channel>")["text"]
    assert "There is no" in env.command("status INC-<!channel><@U999>")["text"]
    return []


def unmapped_user(env):
    assert "can't tell which" in env.command("status", user=STRANGER)["text"]
    return ["<" + settings.SITE_URL.rstrip("/") + f"/{env.acme.slug}/preferences/slack-link/"]


KINDS = [
    declared_from_slack, declared_from_the_dashboard, update_from_slack, update_from_the_dashboard,
    severity_changed, status_changed, lead_changed, status_command, close_without_the_flow,
    task_message_and_dm, task_commands, task_buttons, opted_out_of_the_flow, flow_completed,
    echoed_arguments, unmapped_user,
]


@pytest.mark.parametrize("kind", KINDS, ids=[k.__name__ for k in KINDS])
def test_user_text_reaches_slack_escaped_and_our_markup_still_works(env, kind):
    ours = kind(env)
    payloads = [call.params for call in env.slack.fake.calls] + env.replies
    sent = json.dumps(payloads, ensure_ascii=False)

    assert env.slack.fake.leaks(forbidden=FORBIDDEN) == []
    assert [p for p in env.replies if markup_in(p, FORBIDDEN)] == []
    assert escape(EVIL) in sent or escape(SHORT) in sent  # the user text did go out, escaped
    for markup in ours:
        assert markup in sent, markup
