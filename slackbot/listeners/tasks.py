"""Task buttons: [Done], [Not doing] and the assignee picker (``users_select``),
on the task message in the channel and in assignees' DMs."""

from __future__ import annotations

from incidentio.errors import ServiceError
from learning.models import LearningTask
from learning.services.tasks import task_assign, task_complete, task_not_doing
from slackbot import blocks as kit
from slackbot.listeners.common import Refusal, actor_for, member_or_refuse, respond_later
from slackbot.people import member_for_slack_user


def register(app) -> None:
    app.action(kit.TASK_DONE)(done)
    app.action(kit.TASK_NOT_DOING)(not_doing)
    app.action(kit.TASK_ASSIGN)(assign)


def _task(workspace, action: dict) -> LearningTask:
    public_id = action.get("value") or (action.get("block_id") or "").removeprefix("task:")
    task = LearningTask.objects.select_related("incident").filter(org=workspace.org, public_id=public_id).first()
    if task is None:
        raise Refusal("That task no longer exists.")
    return task


def _act(ack, body, context, change):
    ack()
    workspace = context["workspace"]
    try:
        member = member_or_refuse(workspace, body["user"]["id"], write=True)
        task = _task(workspace, body["actions"][0])
        change(task, actor_for(member, body["user"].get("name", "")), body["actions"][0])
    except (Refusal, ServiceError) as error:
        respond_later(body, str(error))
    # Success needs no reply: the task message is edited in place (outbox).


def done(ack, body, context):
    _act(ack, body, context, lambda task, actor, action: task_complete(task=task, actor=actor))


def not_doing(ack, body, context):
    _act(ack, body, context, lambda task, actor, action: task_not_doing(task=task, actor=actor))


def assign(ack, body, context):
    workspace = context["workspace"]

    def change(task, actor, action):
        selected = action.get("selected_user")
        target = member_for_slack_user(workspace, selected) if selected else None
        if selected and target is None:
            raise Refusal(f"<@{selected}> isn't a member of {workspace.org.name}; the task was not reassigned.")
        task_assign(task=task, actor=actor, user=target.user if target else None)

    _act(ack, body, context, change)
