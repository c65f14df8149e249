"""A timeline notifier (``settings.TIMELINE_NOTIFIERS``): what Slack hears about.

Runs inside the transaction of the change that wrote the event, so the outbox
rows it writes commit (or roll back) with it. Only orgs with a connected
workspace get these messages; without Slack the learning flow's own messages
still go to the console transport.

- ``declared``: the announcement, which creates the incident's channel and
  invites the declarer.
- updates, severity, type, status and role changes: a line in the incident channel.
- anything that changes a learning task (done, not doing, reopened, assigned,
  completed automatically, a role holder changing, the flow moving on or being
  left): one ``learning.tasks_updated`` message, which edits the task
  message(s) in place with ``chat.update`` at delivery time.
"""

from __future__ import annotations

from incidentio.incidents.models import ActorKind, EventKind
from slackbot.formatting import escape, mention
from slackbot.models import SlackWorkspace
from slackbot.outbox import outbox_enqueue

TASK_EVENTS = frozenset(
    {
        EventKind.TASK_COMPLETED,
        EventKind.TASK_NOT_DOING,
        EventKind.TASK_REOPENED,
        EventKind.TASK_ASSIGNED,
        EventKind.ROLE_ASSIGNED,
        EventKind.ROLE_UNASSIGNED,
        EventKind.LEARNING_STATUS_CHANGED,
        EventKind.LEARNING_FLOW_COMPLETED,
        EventKind.LEARNING_FLOW_OPTED_OUT,
    }
)
CHANNEL_LINES = {
    EventKind.UPDATE_POSTED: "incident.update_posted",
    EventKind.SEVERITY_CHANGED: "incident.severity_changed",
    EventKind.TYPE_CHANGED: "incident.type_changed",
    EventKind.ROLE_ASSIGNED: "incident.role_assigned",
    EventKind.STATUS_CHANGED: "incident.status_changed",
    EventKind.CLOSED: "incident.closed",
}
#: The kinds Slack hears about; the others (an escalation the reminder sweep
#: records by the thousand, a snooze) cost no query here.
HEARD = frozenset({EventKind.DECLARED, *CHANNEL_LINES, *TASK_EVENTS})


def _who(event) -> str:
    """Who did it, as mrkdwn: a mention of a Slack actor, or their escaped name."""
    if event.actor_kind == ActorKind.SLACK_USER and event.actor_ref:
        return mention(event.actor_ref)
    return escape(event.actor_name)


def on_timeline_event(event) -> None:
    incident = event.incident
    if event.kind not in HEARD or not SlackWorkspace.objects.filter(org_id=incident.org_id).exists():
        return
    data = {"event": str(event.public_id)}
    if event.kind == EventKind.DECLARED:
        from slackbot import blocks

        text, message_blocks = blocks.announcement(incident, declared_by=_who(event))
        invite = [event.actor_ref] if event.actor_kind == ActorKind.SLACK_USER and event.actor_ref else []
        outbox_enqueue(
            org=incident.org, incident=incident, kind="incident.declared", text=text, blocks=message_blocks,
            dedupe_key=f"incident.declared:{incident.pk}", data={**data, "invite": invite},
        )
    elif event.kind in CHANNEL_LINES:
        if event.kind == EventKind.UPDATE_POSTED:
            text = f"*Update on {incident.reference}* from {_who(event)}:\n{escape(event.text)}"
        else:
            # The event text quotes names users chose (severities, statuses, roles, people).
            text = f"{incident.reference}: {escape(event.text)} ({_who(event)})"
        outbox_enqueue(
            org=incident.org, incident=incident, kind=CHANNEL_LINES[event.kind], text=text,
            dedupe_key=f"timeline:{event.public_id}", data=data,
        )
    if event.kind in TASK_EVENTS and incident.learning_tasks.exists():
        outbox_enqueue(
            org=incident.org, incident=incident, kind="learning.tasks_updated",
            text=f"{incident.reference}: learning tasks changed", data=data,
        )
