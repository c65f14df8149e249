"""The declare modal (opened by ``/inc declare [name]``)."""

from __future__ import annotations

from django.http import Http404

from incidentio.common.errors import ServiceError
from incidentio.incidents import selectors
from incidentio.incidents.services.incidents import incident_declare
from slackbot import blocks as kit
from slackbot.listeners.common import Refusal, actor_for, dig, member_or_refuse, parse_public_id, slack_user_of

UNKNOWN_SEVERITY = "Choose one of the severities in the list."
UNKNOWN_TYPE = "Choose one of the types in the list."


def register(app) -> None:
    app.view(kit.DECLARE_VIEW)(submit)


def _value(values: dict, block: str) -> str:
    element = dig(values, block, block)
    if not isinstance(element, dict):
        return ""
    if element.get("type") == "static_select" or "selected_option" in element:
        value = dig(element, "selected_option", "value")
    else:
        value = element.get("value")
    return value.strip() if isinstance(value, str) else ""


def submit(ack, body, view, context):
    workspace = context["workspace"]
    values = dig(view, "state", "values")
    values = values if isinstance(values, dict) else {}
    name = _value(values, "name")
    if not name:
        ack(response_action="errors", errors={"name": "Give the incident a name."})
        return
    severity = None
    severity_id = _value(values, "severity")
    if severity_id:
        try:
            severity = selectors.severity_get(org=workspace.org, public_id=parse_public_id(severity_id))
        except Http404:  # not an id, deleted meanwhile, or another org's
            ack(response_action="errors", errors={"severity": UNKNOWN_SEVERITY})
            return
    incident_type = None  # no select (one type): the default
    type_id = _value(values, "incident_type")
    if type_id:
        try:
            incident_type = selectors.incident_type_get(org=workspace.org, public_id=parse_public_id(type_id))
        except Http404:  # not an id, deleted meanwhile, or another org's
            ack(response_action="errors", errors={"incident_type": UNKNOWN_TYPE})
            return
    try:
        member = member_or_refuse(workspace, slack_user_of(body), write=True)
        incident_declare(
            org=workspace.org, actor=actor_for(member, dig(body, "user", "name") or ""),
            name=name, summary=_value(values, "summary"), severity=severity, incident_type=incident_type,
        )
    except Refusal as refusal:
        ack(response_action="errors", errors={"name": str(refusal)[:150]})
        return
    except ServiceError as error:
        ack(response_action="errors", errors={error.field if error.field in values else "name": str(error)[:150]})
        return
    ack()
