"""Block Kit builders: pure functions from domain objects to Slack payloads.

Interactive elements carry constant ``action_id``s / ``callback_id``s (the
listeners register on these) and opaque public ids, never integer keys.

Every user-written string put into ``mrkdwn`` goes through ``escape``
(``slackbot.formatting``); parameters documented as *mrkdwn* are already
formatted by the caller.
"""

from __future__ import annotations

import json
import re

from django.utils import timezone

from incidentio.incidents.models import LearningFlowState
from learning.models import TaskState
from orgs.calendar import due_label
from slackbot.formatting import escape, mention

TASK_DONE = "task_done"
TASK_NOT_DOING = "task_not_doing"
TASK_ASSIGN = "task_assign"
CLOSE_RUN_FLOW = "close_run_flow"
CLOSE_WITHOUT_FLOW = "close_without_flow"
DECLARE_VIEW = "declare_incident"
OPT_OUT_VIEW = "opt_out_reason"
REASON_BLOCK = "reason"
REASON_INPUT = "reason_input"
#: The buttons of a reminder DM (``learning.reminder_messages``); their value (and
#: the actions block's id) is ``task:<public id>`` or ``follow_up:<public id>``.
REMINDER_DONE = "reminder_done"
REMINDER_SNOOZE_DAY = "reminder_snooze_day"
REMINDER_SNOOZE_WEEK = "reminder_snooze_week"
REMINDER_SNOOZE_DATE = "reminder_snooze_date"

_PARTIAL_ENTITY = re.compile(r"&(?:a|am|amp|l|lt|g|gt)?$")
_STATE_MARK = {TaskState.OUTSTANDING: "⬜", TaskState.COMPLETED: "✅", TaskState.NOT_DOING: "⏭️"}


def _mrkdwn(text: str) -> dict:
    # Slack's limit is 3000 characters; never end on half an entity (``&am``).
    return {"type": "section", "text": {"type": "mrkdwn", "text": _PARTIAL_ENTITY.sub("", text[:3000])}}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict:
    button = {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def who(user, slack_ids: dict) -> str:
    if user is None:
        return "unassigned"
    slack_id = slack_ids.get(user.pk)
    return mention(slack_id) if slack_id else escape(user.display_name)


def task_lines(task, number: int, slack_ids: dict, *, tz: str = "UTC") -> str:
    line = f"{_STATE_MARK.get(task.state, '')} *{number}. {escape(task.title)}*"
    if not task.required:
        line += " _(optional)_"
    if task.due_at is not None and task.state == TaskState.OUTSTANDING:
        line += f" — {due_text(task.due_at, tz)}"
    details = [f"Assignee: {who(task.assignee, slack_ids)}"]
    if task.state == TaskState.COMPLETED:
        details.append("completed automatically" if task.completed_automatically else "done")
    elif task.state == TaskState.NOT_DOING:
        details.append("not doing" + (f": {escape(task.not_doing_reason)}" if task.not_doing_reason else ""))
    instructions = (task.instructions or "").strip()
    if instructions:
        short = instructions if len(instructions) <= 280 else instructions[:277] + "…"
        details.insert(0, escape(short))
    return line + "\n" + "\n".join(details)


def due_text(due_at, tz: str) -> str:
    """"due Tue 9 Dec", or "⚠️ overdue by 2 days", in the org's time zone."""
    label = due_label(due_at, tz=tz, now=timezone.now())
    text = label.text[0].lower() + label.text[1:]
    return f"⚠️ {text}" if label.overdue else text


def task_actions(task, slack_ids: dict) -> dict:
    picker = {
        "type": "users_select",
        "action_id": TASK_ASSIGN,
        "placeholder": {"type": "plain_text", "text": "Assign…"},
    }
    if task.assignee_id and slack_ids.get(task.assignee_id):
        picker["initial_user"] = slack_ids[task.assignee_id]
    value = str(task.public_id)
    return {
        "type": "actions",
        "block_id": f"task:{value}",
        "elements": [
            _button("Done", TASK_DONE, value, "primary"),
            _button("Not doing", TASK_NOT_DOING, value),
            picker,
        ],
    }


def task_message(incident, status, tasks, *, slack_ids: dict, current: bool, footer: str = "") -> tuple[str, list]:
    """The one message of a learning status: every task, with buttons while it is current.
    ``footer`` is mrkdwn."""
    head = f"*{incident.reference} {escape(incident.name)}* — learning status *{escape(status.name)}*"
    text_lines = [head]
    blocks = [_mrkdwn(head)]
    for number, task in enumerate(tasks, start=1):
        body = task_lines(task, number, slack_ids, tz=incident.org.time_zone)
        text_lines.append(body.split("\n")[0])
        blocks.append(_mrkdwn(body))
        if current and task.state == TaskState.OUTSTANDING:
            blocks.append(task_actions(task, slack_ids))
    if footer:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
        text_lines.append(footer)
    return "\n".join(text_lines), blocks


def task_dm(incident, tasks, *, slack_ids: dict) -> tuple[str, list]:
    head = f"You have learning tasks on *{incident.reference} {escape(incident.name)}*:"
    blocks = [_mrkdwn(head)]
    for number, task in enumerate(tasks, start=1):
        blocks.append(_mrkdwn(task_lines(task, number, slack_ids, tz=incident.org.time_zone)))
        if task.state == TaskState.OUTSTANDING:
            blocks.append(task_actions(task, slack_ids))
    return head + " " + ", ".join(escape(t.title) for t in tasks), blocks


def close_prompt(incident, *, forced: bool) -> tuple[str, list]:
    value = str(incident.public_id)
    if forced:
        text = (
            f"{incident.reference} matches a rule that runs the learning flow. "
            "Closing starts it; you can still close without it if you say why."
        )
        run_label = "Close and run the learning flow"
    else:
        text = f"Closing {incident.reference}: the learning flow walks the team through the post-mortem, follow-ups and debrief."
        run_label = "Run the learning flow"
    blocks = [
        _mrkdwn(f"*Run the learning flow?*\n{text}"),
        {
            "type": "actions",
            "block_id": f"close:{value}",
            "elements": [
                _button(run_label, CLOSE_RUN_FLOW, value, "primary"),
                _button("Close without it", CLOSE_WITHOUT_FLOW, value),
            ],
        },
    ]
    return text, blocks


def reason_modal(incident, *, mode: str) -> dict:
    """``mode`` is ``close`` (closing without the flow) or ``opt_out`` (leaving it)."""
    title = "Close without the flow" if mode == "close" else "Opt out of the flow"
    return {
        "type": "modal",
        "callback_id": OPT_OUT_VIEW,
        "private_metadata": json.dumps({"incident": str(incident.public_id), "mode": mode}),
        "title": {"type": "plain_text", "text": title[:24]},
        "submit": {"type": "plain_text", "text": "Close incident" if mode == "close" else "Opt out"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            _mrkdwn(f"*{incident.reference} {escape(incident.name)}*\nThe reason is kept on the incident and posted to its channel."),
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,  # we check it ourselves, to answer with our own message
                "label": {"type": "plain_text", "text": "Why skip the learning flow?"},
                "element": {"type": "plain_text_input", "action_id": REASON_INPUT, "multiline": True},
            },
        ],
    }


def _option(obj) -> dict:
    return {"text": {"type": "plain_text", "text": obj.name[:75]}, "value": str(obj.public_id)}


def declare_modal(*, name: str, severities, incident_types=(), channel_id: str = "") -> dict:
    """``incident_types``: the org's types in order; a select, on the default
    one, only when there is more than one to choose from."""
    options = [_option(s) for s in severities]
    name_element = {"type": "plain_text_input", "action_id": "name"}
    if name:
        name_element["initial_value"] = name[:200]
    blocks = [
        {"type": "input", "block_id": "name", "label": {"type": "plain_text", "text": "Name"}, "element": name_element},
        {
            "type": "input", "block_id": "summary", "optional": True,
            "label": {"type": "plain_text", "text": "Summary"},
            "element": {"type": "plain_text_input", "action_id": "summary", "multiline": True},
        },
    ]
    if len(incident_types) > 1:
        type_options = [_option(t) for t in incident_types]
        default = next((o for o, t in zip(type_options, incident_types, strict=True) if t.is_default), type_options[0])
        blocks.append({
            "type": "input", "block_id": "incident_type",
            "label": {"type": "plain_text", "text": "Type"},
            "element": {"type": "static_select", "action_id": "incident_type", "options": type_options,
                        "initial_option": default},
        })
    if options:
        blocks.append({
            "type": "input", "block_id": "severity", "optional": True,
            "label": {"type": "plain_text", "text": "Severity"},
            "element": {"type": "static_select", "action_id": "severity", "options": options},
        })
    return {
        "type": "modal",
        "callback_id": DECLARE_VIEW,
        "private_metadata": json.dumps({"channel": channel_id}),
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }


def announcement(incident, *, declared_by: str) -> tuple[str, list]:
    """``declared_by`` is mrkdwn (a mention, or an escaped name)."""
    severity = escape(incident.severity.name) if incident.severity else "no severity"
    text = (f":rotating_light: *{incident.reference} {escape(incident.name)}* declared by {declared_by} "
            f"({severity}, {escape(incident.status.name)})")
    blocks = [_mrkdwn(text)]
    if incident.summary:
        blocks.append(_mrkdwn(escape(incident.summary)))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "Use `/inc help` in this channel for what you can do."}]})
    return text, blocks


def status_text(incident, *, lead: str, tasks=None) -> str:
    """``lead`` is mrkdwn (a mention, or an escaped name)."""
    severity = escape(incident.severity.name) if incident.severity else "none"
    lines = [
        f"*{incident.reference} {escape(incident.name)}*",
        f"Status: {escape(incident.status.name)} · Severity: {severity} · Lead: {lead}",
    ]
    if incident.learning_flow != LearningFlowState.NOT_ENTERED:
        lines.append(f"Learning flow: {incident.get_learning_flow_display()}")
    if incident.summary:
        lines.append(escape(incident.summary))
    return "\n".join(lines)


# Escaped: the ``<text>`` placeholders are literal, not Slack links.
HELP = escape("""*/inc* — incidents from Slack
• `/inc declare [name]` — declare an incident (opens a form)
In an incident channel (elsewhere add the reference, e.g. `/inc close INC-12`):
• `/inc status` — where the incident stands
• `/inc update <text>` — post an update
• `/inc severity <name>` — change the severity
• `/inc type <name>` — change the incident type
• `/inc lead @someone` — make someone the incident lead
• `/inc close` — close it (asks about the learning flow)
• `/inc tasks` — the learning tasks of its current status
• `/inc done <n>` · `/inc skip <n> [reason]` · `/inc assign <n> @someone`
• `/inc optout <reason>` — leave the learning flow, with a reason""")
