"""A "Security" incident type with a learning flow of its own, for the per-type tests.

Security incidents always enter (``auto_enter_all``) the Security flow:
"Security review" (one task, due 2 business days after the incident was
resolved), then "Documenting" with a task different from the Default flow's.
The Default type keeps the seeded rules: Critical and above, otherwise ask.
"""

from __future__ import annotations

from dataclasses import dataclass

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentStatus, IncidentType, Severity
from incidentio.incidents.services.incidents import incident_declare
from learning.models import DueFrom, LearningFlow, TaskKind, UnmatchedPolicy
from learning.services import configuration

REVIEW_TASK = "Rotate the exposed credentials"
REPORT_TASK = "Write the security report"


@dataclass
class Security:
    incident_type: IncidentType
    flow: LearningFlow
    review: IncidentStatus
    documenting: IncidentStatus


def make_security(org) -> Security:
    incident_type = IncidentType.objects.create(org=org, name="Security", rank=1)
    flow = configuration.flow_create(org=org, name="Security", description="Security incidents.")
    review = configuration.flow_status_create(flow=flow, name="Security review")
    documenting = IncidentStatus.objects.get(org=org, name="Documenting")
    configuration.flow_status_add(flow=flow, status=documenting)
    configuration.template_create(org=org, flow=flow, status=review, title=REVIEW_TASK, kind=TaskKind.CUSTOM,
                                  due_days=2, due_from=DueFrom.INCIDENT_RESOLVED)
    configuration.template_create(org=org, flow=flow, status=documenting, title=REPORT_TASK, kind=TaskKind.CUSTOM)
    configuration.rules_update(org=org, incident_type=incident_type, learning_flow=flow, auto_enter_all=True,
                               auto_enter_min_severity=None, otherwise=UnmatchedPolicy.ASK)
    return Security(incident_type, flow, review, documenting)


def declare_security(org, user, security: Security, *, severity: str = "Minor", **kwargs):
    return incident_declare(
        org=org, actor=Actor.for_user(user), name="Leaked API token", incident_type=security.incident_type,
        severity=Severity.objects.get(org=org, name=severity), **kwargs,
    )
