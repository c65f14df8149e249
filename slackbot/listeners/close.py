"""The close prompt: [Run the learning flow] and [Close without it] → a modal
that requires a reason. The same modal opts out of a running flow."""

from __future__ import annotations

import json

from incidentio.errors import ServiceError
from incidentio.models import Incident
from incidentio.services.incidents import incident_close
from learning.services.flow import learning_opt_out
from slackbot import blocks as kit
from slackbot.listeners.common import Refusal, actor_for, after_commit, member_or_refuse, respond_later

EMPTY_REASON = "Say why the learning flow is skipped; the reason is kept on the incident and shared."


def register(app) -> None:
    app.action(kit.CLOSE_RUN_FLOW)(run_flow)
    app.action(kit.CLOSE_WITHOUT_FLOW)(close_without_flow)
    app.view(kit.OPT_OUT_VIEW)(submit_reason)


def _incident(workspace, public_id: str) -> Incident:
    incident = Incident.objects.select_related("status", "org").filter(org=workspace.org, public_id=public_id).first()
    if incident is None:
        raise Refusal("That incident no longer exists.")
    return incident


def run_flow(ack, body, context):
    ack()
    workspace = context["workspace"]
    try:
        member = member_or_refuse(workspace, body["user"]["id"], write=True)
        incident = _incident(workspace, body["actions"][0]["value"])
        incident_close(incident=incident, actor=actor_for(member, body["user"].get("name", "")), learning_flow="run")
    except (Refusal, ServiceError) as error:
        respond_later(body, str(error))
        return
    respond_later(body, f"{incident.reference} is closed and its learning flow has started.", replace_original=True)


def close_without_flow(ack, body, context):
    ack()
    workspace = context["workspace"]
    try:
        member_or_refuse(workspace, body["user"]["id"], write=True)
        incident = _incident(workspace, body["actions"][0]["value"])
    except Refusal as error:
        respond_later(body, str(error))
        return
    from slackbot.tasks import open_view

    # The trigger id is valid for 3 s: the task is queued at once (no transaction here).
    after_commit(open_view, workspace.team_id, body["trigger_id"], kit.reason_modal(incident, mode="close"))


def submit_reason(ack, body, view, context):
    workspace = context["workspace"]
    meta = json.loads(view.get("private_metadata") or "{}")
    reason = (((view.get("state") or {}).get("values") or {}).get(kit.REASON_BLOCK) or {}).get(kit.REASON_INPUT) or {}
    reason = (reason.get("value") or "").strip()
    if not reason:
        ack(response_action="errors", errors={kit.REASON_BLOCK: EMPTY_REASON})
        return
    try:
        member = member_or_refuse(workspace, body["user"]["id"], write=True)
        incident = _incident(workspace, meta.get("incident", ""))
        actor = actor_for(member, body["user"].get("name", ""))
        if meta.get("mode") == "opt_out":
            learning_opt_out(incident=incident, actor=actor, reason=reason)
        else:
            incident_close(incident=incident, actor=actor, learning_flow="opt_out", opt_out_reason=reason)
    except (Refusal, ServiceError) as error:
        ack(response_action="errors", errors={kit.REASON_BLOCK: str(error)[:150]})
        return
    ack()
