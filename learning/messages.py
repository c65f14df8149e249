"""What the learning flow says in Slack: pure builders of outbox text and blocks.

Every user-written string is escaped (``slackbot.formatting.escape``): the text
is Slack mrkdwn, where ``<!channel>`` in a task title would ping everyone.
"""

from __future__ import annotations

from django.utils import timezone

from orgs.calendar import due_label
from slackbot.formatting import escape

#: Outbox kinds the learning flow queues. The Slack transport renders task
#: messages (``TASKS_POSTED``, ``TASK_ASSIGNED``) from the database at delivery.
TASKS_POSTED = "learning.tasks_posted"
TASK_ASSIGNED = "learning.task_assigned"
FLOW_COMPLETED = "learning.completed"
FLOW_OPTED_OUT = "learning.opted_out"


def _due(task, incident) -> str:
    """"due Tue 9 Dec" (or "overdue by 2 days") in the org's time zone."""
    label = due_label(task.due_at, tz=incident.org.time_zone, now=timezone.now())
    return label.text[0].lower() + label.text[1:]


def tasks_posted(incident, status, tasks) -> tuple[str, list]:
    lines = [f"*{incident.reference} {escape(incident.name)}* is now *{escape(status.name)}*. Tasks:"]
    for number, task in enumerate(tasks, start=1):
        who = f" — {escape(task.assignee.display_name)}" if task.assignee else " — unassigned"
        done = " ✅" if not task.is_outstanding else ""
        due = f" ({_due(task, incident)})" if task.due_at is not None and task.is_outstanding else ""
        lines.append(f"{number}. {escape(task.title)}{who}{due}{done}")
    text = "\n".join(lines)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    return text, blocks


def opted_out(incident, reason: str, who: str) -> str:
    return (f"{incident.reference} {escape(incident.name)} was closed without the learning flow by {escape(who)}. "
            f"Reason: {escape(reason)}")


def flow_completed(incident) -> str:
    return f"{incident.reference} {escape(incident.name)} finished its learning flow and is closed."


def tasks_assigned(tasks, incident) -> str:
    name = escape(incident.name)
    if len(tasks) == 1:
        return f"You have a learning task on {incident.reference} {name}: {escape(tasks[0].title)}"
    titles = "\n".join(f"• {escape(task.title)}" for task in tasks)
    return f"You have {len(tasks)} learning tasks on {incident.reference} {name}:\n{titles}"
