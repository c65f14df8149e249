"""The buttons of a reminder DM (``learning.reminder_messages``): Mark done,
Snooze 1 day, Snooze 1 week and the "Snooze until…" date picker.

The clicker must be a member of the item's org, and either its owner or a
member who may change incidents. The DM is replaced with what was done; a
refusal is an ephemeral answer and changes nothing.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from incidentio.common.errors import ServiceError
from incidentio.incidents.services.follow_ups import follow_up_complete
from learning import reminder_messages as say
from learning.selectors import reminder_item_get
from learning.services.reminders import item_kind, reminder_snooze, snooze_until_day
from learning.services.tasks import task_complete
from slackbot import blocks as kit
from slackbot.formatting import escape
from slackbot.listeners.common import (
    MALFORMED,
    Refusal,
    actor_for,
    dig,
    error_reply,
    found_or_refuse,
    member_or_refuse,
    respond_later,
    slack_user_of,
)

ITEM_GONE = "That task or follow-up no longer exists."


def register(app) -> None:
    app.action(kit.REMINDER_SNOOZE_DAY)(snooze_day)
    app.action(kit.REMINDER_SNOOZE_WEEK)(snooze_week)
    app.action(kit.REMINDER_SNOOZE_DATE)(snooze_date)
    app.action(kit.REMINDER_DONE)(done)


def _act(ack, body, context, change):
    ack()
    workspace = context["workspace"]
    try:
        action = dig(body, "actions", 0)
        if not isinstance(action, dict):
            raise Refusal(MALFORMED)
        member = member_or_refuse(workspace, slack_user_of(body), write=False)
        block_id = action.get("block_id")
        ref = action.get("value") or (block_id.removeprefix("reminder:") if isinstance(block_id, str) else None)
        item = found_or_refuse(reminder_item_get, ITEM_GONE, org=workspace.org, ref=ref)
        if item.assignee_id != member.user.pk and not member.membership.may_write:
            raise Refusal(f"“{escape(item.title)}” isn't yours, and your role in {escape(workspace.org.name)} "
                          f"({member.membership.get_role_display()}) doesn't allow changing it. Nothing was changed.")
        text = change(item, actor_for(member, dig(body, "user", "name") or ""), action)
    except (Refusal, ServiceError) as error:
        respond_later(body, error_reply(error))
        return
    respond_later(body, text, replace_original=True,
                  blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def _snooze_for(delta: timedelta):
    def handler(ack, body, context):
        def change(item, actor, action):
            until = timezone.now() + delta
            item = reminder_snooze(item=item, actor=actor, until=until)
            return say.snoozed_reply(item_kind(item), item, until)

        _act(ack, body, context, change)

    return handler


snooze_day = _snooze_for(timedelta(days=1))
snooze_week = _snooze_for(timedelta(days=7))


def snooze_date(ack, body, context):
    def change(item, actor, action):
        try:
            day = date.fromisoformat(action.get("selected_date") or "")
        except (TypeError, ValueError):
            raise Refusal(MALFORMED) from None
        until = snooze_until_day(day, item.incident.org)
        item = reminder_snooze(item=item, actor=actor, until=until)
        return say.snoozed_reply(item_kind(item), item, until)

    _act(ack, body, context, change)


def done(ack, body, context):
    def change(item, actor, action):
        if item_kind(item) == "task":
            item = task_complete(task=item, actor=actor)
        else:
            item = follow_up_complete(follow_up=item, actor=actor)
        return say.done_reply(item_kind(item), item)

    _act(ack, body, context, change)
