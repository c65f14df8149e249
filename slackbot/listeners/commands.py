"""``/inc`` and ``/incident``: one parser, one small function per subcommand.

The answer to a slash command travels in the ack itself (Slack shows it as an
ephemeral message), so no Web API call stands between the request and its
response; modals are opened by a Celery task with the command's trigger id.
"""

from __future__ import annotations

from incidentio.common.errors import ServiceError
from incidentio.common.text import full_stop
from incidentio.incidents import selectors
from incidentio.incidents.models import IncidentRole, LearningFlowState, RoleKind, Severity
from incidentio.incidents.selectors import incident_type_list
from incidentio.incidents.services.incidents import (
    incident_assign_role,
    incident_edit,
    incident_post_update,
    incident_type_change,
)
from learning.models import LearningTask
from learning.services.flow import incident_close, learning_opt_out
from learning.services.rules import FlowDecision, decide
from learning.services.tasks import task_assign, task_complete, task_not_doing
from slackbot import blocks as kit
from slackbot.formatting import escape, mention, unescape
from slackbot.listeners.common import (
    MALFORMED,
    Refusal,
    actor_for,
    after_commit,
    error_reply,
    found_or_refuse,
    incident_in_channel,
    member_or_refuse,
    mentioned_user,
    slack_user_of,
)
from slackbot.people import known_slack_ids, member_for_slack_user

NEEDS_INCIDENT = "Run this in an incident's channel, or name the incident: `/inc {sub} INC-12{rest}`."
# Replies are mrkdwn: usages' ``<text>`` placeholders are literal, so escaped.
USAGE_UPDATE = escape("`/inc update <text>`")
USAGE_OPTOUT = escape("`/inc optout <reason>`")


def register(app) -> None:
    app.command("/inc")(handle_command)
    app.command("/incident")(handle_command)


def handle_command(ack, body, context):
    try:
        reply = run(context["workspace"], body)
    except (Refusal, ServiceError) as error:
        reply = error_reply(error)
    if isinstance(reply, tuple):
        text, blocks = reply
        ack(text=text, blocks=blocks, response_type="ephemeral")
    elif reply:
        ack(text=reply, response_type="ephemeral")
    else:
        ack()


class Command:
    def __init__(self, workspace, body):
        self.workspace = workspace
        self.org = workspace.org
        self.body = body
        # With should_escape (manifest.yml) Slack sends what was typed escaped
        # (``a &lt; b``) and mentions as markup (``<@U1|ann>``): keep the typed
        # text, which is stored, and escape it again wherever it is echoed.
        text = body.get("text")
        words = unescape(text if isinstance(text, str) else "").strip().split(None, 1)
        self.sub = words[0].lower() if words else "help"
        self.rest = words[1].strip() if len(words) > 1 else ""

    def member(self, *, write: bool = True):
        return member_or_refuse(self.workspace, slack_user_of(self.body), write=write)

    @property
    def user_name(self) -> str:
        name = self.body.get("user_name")
        return name if isinstance(name, str) else ""

    def incident(self, *, usage_rest: str = ""):
        """The incident: named first in the arguments, or the channel's."""
        first, _, remainder = self.rest.partition(" ")
        # Only a word starting "INC-" names one here: a bare number is a task's (`/inc done 2`).
        if first.upper().startswith("INC-"):
            named = found_or_refuse(selectors.incident_get_by_reference,
                                    f"There is no {escape(first.upper())} in {escape(full_stop(self.org.name))}",
                                    org=self.org, reference=first)
            self.rest = remainder.strip()
            return named
        channel_id = self.body.get("channel_id")
        found = incident_in_channel(self.org, channel_id if isinstance(channel_id, str) else None)
        if found is None:
            raise Refusal(NEEDS_INCIDENT.format(sub=escape(self.sub), rest=escape(usage_rest)))
        return found


def run(workspace, body):
    command = Command(workspace, body)
    handler = SUBCOMMANDS.get(command.sub)
    if handler is None:
        return f"I don't know `{escape(command.sub)}`.\n\n{kit.HELP}"
    return handler(command)


def _help(command):
    return kit.HELP


def _declare(command):
    command.member()
    from slackbot.tasks import open_view

    trigger_id = command.body.get("trigger_id")
    if not isinstance(trigger_id, str) or not trigger_id:
        raise Refusal(MALFORMED)  # no modal can be opened without it
    severities = list(Severity.objects.filter(org=command.org))
    channel_id = command.body.get("channel_id")
    view = kit.declare_modal(name=command.rest, severities=severities,
                             incident_types=list(incident_type_list(org=command.org)),
                             channel_id=channel_id if isinstance(channel_id, str) else "")
    after_commit(open_view, command.workspace.team_id, trigger_id, view)
    return ""


def _lead_name(incident) -> str:
    assignment = incident.role_assignments.filter(role__kind=RoleKind.LEAD).select_related("user").first()
    if assignment is None:
        return "nobody yet"
    ids = known_slack_ids(incident.org, [assignment.user_id])
    return mention(ids[assignment.user_id]) if ids else escape(assignment.user.display_name)


def _status(command):
    command.member(write=False)
    incident = command.incident()
    return kit.status_text(incident, lead=_lead_name(incident))


def _update(command):
    member = command.member()
    incident = command.incident(usage_rest=" <text>")
    if not command.rest:
        raise Refusal(f"Write the update: {USAGE_UPDATE}.")
    incident_post_update(incident=incident, actor=actor_for(member, command.user_name), message=command.rest)
    return f"Update posted to {incident.reference}."


def _severity(command):
    member = command.member()
    incident = command.incident(usage_rest=" <severity>")
    severities = list(Severity.objects.filter(org=command.org))
    chosen = next((s for s in severities if s.name.lower() == command.rest.lower()), None)
    if chosen is None:
        names = ", ".join(escape(s.name) for s in severities)
        raise Refusal(f"Choose one of: {names}.")
    incident_edit(incident=incident, actor=actor_for(member, command.user_name), severity=chosen)
    return f"{incident.reference} is now {escape(chosen.name)}."


def _type(command):
    member = command.member()
    incident = command.incident(usage_rest=" <type>")
    types = list(incident_type_list(org=command.org))
    chosen = next((t for t in types if t.name.lower() == command.rest.lower()), None)
    if chosen is None:
        names = ", ".join(escape(t.name) for t in types)
        raise Refusal(f"Choose one of: {names}.")
    incident_type_change(incident=incident, actor=actor_for(member, command.user_name), incident_type=chosen)
    return f"{incident.reference} is now of type {escape(chosen.name)}."


def _target_member(command, text: str):
    slack_user_id = mentioned_user(text)
    if slack_user_id is None:
        raise Refusal("Mention someone: `@name`.")
    target = member_for_slack_user(command.workspace, slack_user_id)
    if target is None:
        raise Refusal(f"{mention(slack_user_id)} isn't a member of {escape(command.org.name)} "
                      "(no account with their Slack e-mail).")
    return target


def _lead(command):
    member = command.member()
    incident = command.incident(usage_rest=" @someone")
    target = _target_member(command, command.rest)
    role = IncidentRole.objects.filter(org=command.org, kind=RoleKind.LEAD).first()
    if role is None:
        raise Refusal("This organization has no lead role.")
    incident_assign_role(incident=incident, actor=actor_for(member, command.user_name), role=role, user=target.user)
    return f"{mention(target.slack_user_id)} is now {escape(role.name)} of {incident.reference}."


def _close(command):
    member = command.member()
    incident = command.incident()
    if not incident.is_live:
        raise Refusal(f"{incident.reference} is {escape(incident.status.name.lower())}, not live; it cannot be closed.")
    decision = decide(incident)
    if decision == FlowDecision.NEVER:
        incident_close(incident=incident, actor=actor_for(member, command.user_name))
        return f"{incident.reference} is closed."
    return kit.close_prompt(incident, forced=decision == FlowDecision.REQUIRED)


def _current_tasks(incident):
    return list(
        LearningTask.objects.filter(incident=incident, status_id=incident.status_id).select_related("assignee")
    )


def _tasks(command):
    command.member(write=False)
    incident = command.incident()
    tasks = _current_tasks(incident)
    if not tasks:
        return f"{incident.reference} has no learning tasks right now."
    slack_ids = known_slack_ids(command.org, [t.assignee_id for t in tasks])
    running = incident.learning_flow == LearningFlowState.RUNNING
    return kit.task_message(incident, incident.status, tasks, slack_ids=slack_ids, current=running)


def _task_number(command, incident, usage: str):
    number, _, rest = command.rest.partition(" ")
    tasks = _current_tasks(incident)
    if not number.isdigit() or not 1 <= int(number) <= len(tasks):
        count = len(tasks)
        raise Refusal(f"Give a task number from 1 to {count}: `{escape(usage)}` (see `/inc tasks`)." if count
                      else f"{incident.reference} has no learning tasks right now.")
    return tasks[int(number) - 1], rest.strip()


def _done(command):
    member = command.member()
    incident = command.incident(usage_rest=" <n>")
    task, _ = _task_number(command, incident, "/inc done <n>")
    task_complete(task=task, actor=actor_for(member, command.user_name))
    return f"“{escape(task.title)}” is done."


def _skip(command):
    member = command.member()
    incident = command.incident(usage_rest=" <n> [reason]")
    task, reason = _task_number(command, incident, "/inc skip <n> [reason]")
    task_not_doing(task=task, actor=actor_for(member, command.user_name), reason=reason)
    return f"“{escape(task.title)}” is marked not doing."


def _assign(command):
    member = command.member()
    incident = command.incident(usage_rest=" <n> @someone")
    task, rest = _task_number(command, incident, "/inc assign <n> @someone")
    target = _target_member(command, rest)
    task_assign(task=task, actor=actor_for(member, command.user_name), user=target.user)
    return f"“{escape(task.title)}” is assigned to {mention(target.slack_user_id)}."


def _optout(command):
    member = command.member()
    incident = command.incident(usage_rest=" <reason>")
    if not command.rest:
        raise Refusal(f"Say why: {USAGE_OPTOUT}. The reason is kept and posted to the channel.")
    learning_opt_out(incident=incident, actor=actor_for(member, command.user_name), reason=command.rest)
    return f"{incident.reference} left the learning flow and is closed."


SUBCOMMANDS = {
    "help": _help,
    "declare": _declare,
    "new": _declare,
    "status": _status,
    "update": _update,
    "severity": _severity,
    "type": _type,
    "lead": _lead,
    "close": _close,
    "tasks": _tasks,
    "done": _done,
    "skip": _skip,
    "assign": _assign,
    "optout": _optout,
    "opt-out": _optout,
}
