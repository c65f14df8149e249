"""What the learning flow says in Slack: pure builders of outbox text and blocks."""

from __future__ import annotations


def tasks_posted(incident, status, tasks) -> tuple[str, list]:
    lines = [f"*{incident.reference} {incident.name}* is now *{status.name}*. Tasks:"]
    for number, task in enumerate(tasks, start=1):
        who = f" — {task.assignee.display_name}" if task.assignee else " — unassigned"
        done = " ✅" if not task.is_outstanding else ""
        lines.append(f"{number}. {task.title}{who}{done}")
    text = "\n".join(lines)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
    return text, blocks


def opted_out(incident, reason: str, who: str) -> str:
    return f"{incident.reference} {incident.name} was closed without the learning flow by {who}. Reason: {reason}"


def flow_completed(incident) -> str:
    return f"{incident.reference} {incident.name} finished its learning flow and is closed."


def tasks_assigned(tasks, incident) -> str:
    if len(tasks) == 1:
        return f"You have a learning task on {incident.reference} {incident.name}: {tasks[0].title}"
    titles = "\n".join(f"• {task.title}" for task in tasks)
    return f"You have {len(tasks)} learning tasks on {incident.reference} {incident.name}:\n{titles}"
