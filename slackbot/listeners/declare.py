"""The declare modal (opened by ``/inc declare [name]``)."""

from __future__ import annotations

from incidentio.errors import ServiceError
from incidentio.models import Severity
from incidentio.services.incidents import incident_declare
from slackbot import blocks as kit
from slackbot.listeners.common import Refusal, actor_for, member_or_refuse


def register(app) -> None:
    app.view(kit.DECLARE_VIEW)(submit)


def _value(values: dict, block: str) -> str:
    element = (values.get(block) or {}).get(block) or {}
    if element.get("type") == "static_select" or "selected_option" in element:
        return ((element.get("selected_option") or {}).get("value")) or ""
    return (element.get("value") or "").strip()


def submit(ack, body, view, context):
    workspace = context["workspace"]
    values = (view.get("state") or {}).get("values") or {}
    name = _value(values, "name")
    if not name:
        ack(response_action="errors", errors={"name": "Give the incident a name."})
        return
    severity = None
    severity_id = _value(values, "severity")
    if severity_id:
        severity = Severity.objects.filter(org=workspace.org, public_id=severity_id).first()
    try:
        member = member_or_refuse(workspace, body["user"]["id"], write=True)
        incident_declare(
            org=workspace.org, actor=actor_for(member, body["user"].get("name", "")),
            name=name, summary=_value(values, "summary"), severity=severity,
        )
    except Refusal as refusal:
        ack(response_action="errors", errors={"name": str(refusal)[:150]})
        return
    except ServiceError as error:
        ack(response_action="errors", errors={error.field if error.field in values else "name": str(error)[:150]})
        return
    ack()
