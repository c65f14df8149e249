"""What a reminder says: pure builders of the DM's text and Block Kit blocks.

The text is Slack mrkdwn with every user-written string escaped; it is also
the e-mail a member without Slack gets (``slackbot.transports._email`` unescapes
it), so it carries the incident's address as a plain URL, never a ``<url|label>``
link: the links are in the blocks. Dates are shown in the org's time zone.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings

from incidentio.common.links import incident_url_prefix
from slackbot import blocks as kit
from slackbot.formatting import escape, link

#: Outbox kinds of the reminder sweep (``learning.services.reminders``).
REMINDER = "learning.reminder"
ESCALATION = "learning.overdue_escalated"


def org_zone(org) -> ZoneInfo:
    try:
        return ZoneInfo(org.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(moment: datetime, org) -> str:
    """``Fri 12 Dec 2026, 17:00 (Europe/Paris)``."""
    zone = org_zone(org)
    return f"{moment.astimezone(zone):%a %d %b %Y, %H:%M} ({zone.key})"


def incident_url(incident) -> str:
    return settings.SITE_URL.rstrip("/") + incident_url_prefix(incident.org) + f"{incident.public_id}/"


def item_ref(kind: str, item) -> str:
    """``task:<id>`` / ``follow_up:<id>``: the buttons' value."""
    return f"{kind}:{item.public_id}"


def _what(kind: str, item, incident) -> str:
    noun = "Learning task" if kind == "task" else "Follow-up"
    return f"{noun} “{escape(item.title)}” on {incident.reference} {escape(incident.name)}"


def _days(seconds: float) -> str:
    days = int(seconds // 86400)
    return "1 day" if days == 1 else f"{days} days"


def reminder_text(kind: str, item, slot: str, now: datetime) -> str:
    incident = item.incident
    when = local_time(item.due_at, incident.org)
    what = _what(kind, item, incident)
    late = (now - item.due_at).total_seconds()
    if slot == "before":
        head = f"Reminder: {what} is due {when}."
    elif slot == "due":
        head = f"{what} is due now ({when})."
    elif slot.startswith("snooze-end"):
        state = f"is overdue by {_days(late)} (it was due {when})" if late >= 86400 else (
            f"is overdue (it was due {when})" if late > 0 else f"is still due {when}")
        head = f"Your snooze has ended: {what} {state}."
    else:
        head = f"{what} is overdue by {_days(late)}: it was due {when}."
    return f"{head}\nOpen the incident: {incident_url(incident)}"


def escalation_text(kind: str, item, owner_name: str, role_name: str, now: datetime) -> str:
    incident = item.incident
    when = local_time(item.due_at, incident.org)
    late = _days((now - item.due_at).total_seconds())
    return (
        f"Overdue: {_what(kind, item, incident)} was due {when} and is {late} late. "
        f"It is {escape(owner_name)}'s. You are told as the incident's {escape(role_name)}.\n"
        f"Open the incident: {incident_url(incident)}"
    )


def blocks(kind: str, item, text: str, *, done: bool = True) -> list:
    """The text with the incident linked, then the buttons: Mark done, Snooze 1 day,
    Snooze 1 week, and a date picker to snooze until a day."""
    incident = item.incident
    head, url = text.rsplit("\nOpen the incident: ", 1)
    ref = item_ref(kind, item)
    elements = []
    if done:
        elements.append({"type": "button", "text": {"type": "plain_text", "text": "Mark done"},
                         "action_id": kit.REMINDER_DONE, "value": ref, "style": "primary"})
    elements += [
        {"type": "button", "text": {"type": "plain_text", "text": "Snooze 1 day"},
         "action_id": kit.REMINDER_SNOOZE_DAY, "value": ref},
        {"type": "button", "text": {"type": "plain_text", "text": "Snooze 1 week"},
         "action_id": kit.REMINDER_SNOOZE_WEEK, "value": ref},
        {"type": "datepicker", "action_id": kit.REMINDER_SNOOZE_DATE,
         "placeholder": {"type": "plain_text", "text": "Snooze until…"}},
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": head[:2900]}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": link(url, f"Open {incident.reference}")}]},
        {"type": "actions", "block_id": f"reminder:{ref}", "elements": elements},
    ]


def snoozed_reply(kind: str, item, until: datetime) -> str:
    return f"Snoozed: no reminders about {_what(kind, item, item.incident)} before {local_time(until, item.incident.org)}."


def done_reply(kind: str, item) -> str:
    return f"Done: {_what(kind, item, item.incident)}."
