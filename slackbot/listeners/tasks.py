"""Task buttons: [Done], [Not doing] and the assignee picker (``users_select``),
on the task message in the channel and in assignees' DMs."""

from __future__ import annotations

from incidentio.common.errors import ServiceError
from learning.models import LearningTask
from learning.selectors import task_get
from learning.services.tasks import task_assign, task_complete, task_not_doing
from slackbot import blocks as kit
from slackbot.formatting import SLACK_USER_ID, escape, mention
from slackbot.listeners.common import (
    MALFORMED,
    Refusal,
    actor_for,
    dig,
    error_reply,
    found_or_refuse,
    member_or_refuse,
    parse_public_id,
    respond_later,
    slack_user_of,
)
from slackbot.people import member_for_slack_user

TASK_GONE = "That task no longer exists."


def register(app) -> None:
    app.action(kit.TASK_DONE)(done)
    app.action(kit.TASK_NOT_DOING)(not_doing)
    app.action(kit.TASK_ASSIGN)(assign)


def _task(workspace, action: dict) -> LearningTask:
    block_id = action.get("block_id")
    raw = action.get("value") or (block_id.removeprefix("task:") if isinstance(block_id, str) else None)
    # Not an id, or not one of this org's tasks: the same answer as a deleted task.
    return found_or_refuse(task_get, TASK_GONE, org=workspace.org, public_id=parse_public_id(raw))


def _act(ack, body, context, change):
    ack()
    workspace = context["workspace"]
    try:
        action = dig(body, "actions", 0)
        if not isinstance(action, dict):
            raise Refusal(MALFORMED)
        member = member_or_refuse(workspace, slack_user_of(body), write=True)
        task = _task(workspace, action)
        change(task, actor_for(member, dig(body, "user", "name") or ""), action)
    except (Refusal, ServiceError) as error:
        respond_later(body, error_reply(error))
    # Success needs no reply: the task message is edited in place (outbox).


def done(ack, body, context):
    _act(ack, body, context, lambda task, actor, action: task_complete(task=task, actor=actor))


def not_doing(ack, body, context):
    _act(ack, body, context, lambda task, actor, action: task_not_doing(task=task, actor=actor))


def assign(ack, body, context):
    workspace = context["workspace"]

    def change(task, actor, action):
        selected = action.get("selected_user")
        if selected is not None and not isinstance(selected, str):
            raise Refusal(MALFORMED)
        # Only a well-formed user id is looked up (users.info); anything else is no member.
        target = member_for_slack_user(workspace, selected) if selected and SLACK_USER_ID.match(selected) else None
        if selected and target is None:
            raise Refusal(f"{mention(selected)} isn't a member of {escape(workspace.org.name)}; "
                          "the task was not reassigned.")
        task_assign(task=task, actor=actor, user=target.user if target else None)

    _act(ack, body, context, change)
