"""Lifecycle rules: does a closed incident enter the learning flow?"""

from __future__ import annotations

from enum import Enum

from incidentio.incidents.models import Incident, IncidentStatus, StatusCategory
from learning.models import LifecycleRules, UnmatchedPolicy


class FlowDecision(str, Enum):
    REQUIRED = "required"  # a rule puts it in the flow (a person may still opt out, with a reason)
    ASK = "ask"  # whoever closes it chooses
    NEVER = "never"  # closes straight to Closed


def decide(incident: Incident) -> FlowDecision:
    if not IncidentStatus.objects.filter(org_id=incident.org_id, category=StatusCategory.LEARNING).exists():
        return FlowDecision.NEVER
    rules = (
        LifecycleRules.objects.filter(incident_type_id=incident.incident_type_id)
        .select_related("auto_enter_min_severity").first()
    )
    if rules is None:
        return FlowDecision.ASK
    if rules.auto_enter_all:
        return FlowDecision.REQUIRED
    threshold = rules.auto_enter_min_severity
    if threshold is not None and incident.severity is not None and incident.severity.rank >= threshold.rank:
        return FlowDecision.REQUIRED
    return FlowDecision.NEVER if rules.otherwise == UnmatchedPolicy.NEVER else FlowDecision.ASK
