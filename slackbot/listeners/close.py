"""The close prompt: [Run the learning flow] and [Close without it] → a modal
that requires a reason. The same modal opts out of a running flow."""

from __future__ import annotations

import json

from incidentio.common.errors import ServiceError
from incidentio.incidents import selectors
from incidentio.incidents.models import Incident
from learning.services.flow import LearningFlowChoice, incident_close, learning_opt_out
from slackbot import blocks as kit
from slackbot.listeners.common import (
    MALFORMED,
    Refusal,
    actor_for,
    after_commit,
    dig,
    error_reply,
    found_or_refuse,
    member_or_refuse,
    parse_public_id,
    respond_later,
    slack_user_of,
)

EMPTY_REASON = "Say why the learning flow is skipped; the reason is kept on the incident and shared."
INCIDENT_GONE = "That incident no longer exists."
#: A modal error is shown under the input, at most 150 characters long.
MODAL_ERROR_LENGTH = 150


def register(app) -> None:
    app.action(kit.CLOSE_RUN_FLOW)(run_flow)
    app.action(kit.CLOSE_WITHOUT_FLOW)(close_without_flow)
    app.view(kit.OPT_OUT_VIEW)(submit_reason)


def _incident(workspace, public_id) -> Incident:
    # Not an id, or not one of this org's incidents: the same answer as a deleted one.
    return found_or_refuse(selectors.incident_get, INCIDENT_GONE,
                           org=workspace.org, public_id=parse_public_id(public_id))


def _button_value(body) -> str:
    value = dig(body, "actions", 0, "value")
    if not isinstance(value, str):
        raise Refusal(MALFORMED)
    return value


def run_flow(ack, body, context):
    ack()
    workspace = context["workspace"]
    try:
        member = member_or_refuse(workspace, slack_user_of(body), write=True)
        incident = _incident(workspace, _button_value(body))
        incident_close(incident=incident, actor=actor_for(member, dig(body, "user", "name") or ""),
                       learning_flow=LearningFlowChoice.RUN)
    except (Refusal, ServiceError) as error:
        respond_later(body, error_reply(error))
        return
    respond_later(body, f"{incident.reference} is closed and its learning flow has started.", replace_original=True)


def close_without_flow(ack, body, context):
    ack()
    workspace = context["workspace"]
    try:
        member_or_refuse(workspace, slack_user_of(body), write=True)
        incident = _incident(workspace, _button_value(body))
        trigger_id = body.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id:
            raise Refusal(MALFORMED)  # no modal can be opened without it
    except Refusal as error:
        respond_later(body, error_reply(error))
        return
    from slackbot.tasks import open_view

    # The trigger id is valid for 3 s: the task is queued at once (no transaction here).
    after_commit(open_view, workspace.team_id, trigger_id, kit.reason_modal(incident, mode="close"))


def _metadata(view) -> dict:
    """The modal's ``private_metadata`` (``blocks.reason_modal``): a JSON object."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except (TypeError, ValueError):
        raise Refusal(MALFORMED) from None
    if not isinstance(meta, dict):
        raise Refusal(MALFORMED)
    return meta


def submit_reason(ack, body, view, context):
    workspace = context["workspace"]
    reason = dig(view, "state", "values", kit.REASON_BLOCK, kit.REASON_INPUT, "value")
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        ack(response_action="errors", errors={kit.REASON_BLOCK: EMPTY_REASON})
        return
    try:
        meta = _metadata(view)
        member = member_or_refuse(workspace, slack_user_of(body), write=True)
        incident = _incident(workspace, meta.get("incident"))
        actor = actor_for(member, dig(body, "user", "name") or "")
        if meta.get("mode") == "opt_out":
            learning_opt_out(incident=incident, actor=actor, reason=reason)
        else:
            incident_close(incident=incident, actor=actor, learning_flow=LearningFlowChoice.OPT_OUT, opt_out_reason=reason)
    except (Refusal, ServiceError) as error:
        # Shown in the modal, under the reason, as plain text.
        ack(response_action="errors", errors={kit.REASON_BLOCK: str(error)[:MODAL_ERROR_LENGTH]})
        return
    ack()
