"""Lifecycle rules: does a closed incident enter the learning flow, and which flow?

Rules are per incident type (``LifecycleRules.incident_type``): the flow the
type runs (null: the org's default flow), and when its incidents enter it.
"""

from __future__ import annotations

from enum import Enum

from incidentio.incidents.models import Incident
from learning.models import LearningFlow, LearningFlowStatus, LifecycleRules, UnmatchedPolicy


class FlowDecision(str, Enum):
    REQUIRED = "required"  # a rule puts it in the flow (a person may still opt out, with a reason)
    ASK = "ask"  # whoever closes it chooses
    NEVER = "never"  # closes straight to Closed


def _rules(incident: Incident) -> LifecycleRules | None:
    return (
        LifecycleRules.objects.filter(incident_type_id=incident.incident_type_id)
        .select_related("auto_enter_min_severity", "learning_flow").first()
    )


def _flow(incident: Incident, rules: LifecycleRules | None) -> LearningFlow | None:
    if rules is not None and rules.learning_flow is not None:
        return rules.learning_flow
    return LearningFlow.objects.filter(org_id=incident.org_id, is_default=True).first()


def entry_flow(incident: Incident) -> LearningFlow | None:
    """The flow the incident would run if it entered now: its type's, else the org's default."""
    return _flow(incident, _rules(incident))


def decide(incident: Incident) -> FlowDecision:
    rules = _rules(incident)
    flow = _flow(incident, rules)
    # A flow without statuses has nothing to run: the incident closes straight.
    if flow is None or not LearningFlowStatus.objects.filter(flow=flow).exists():
        return FlowDecision.NEVER
    if rules is None:
        return FlowDecision.ASK
    if rules.auto_enter_all:
        return FlowDecision.REQUIRED
    threshold = rules.auto_enter_min_severity
    if threshold is not None and incident.severity is not None and incident.severity.rank >= threshold.rank:
        return FlowDecision.REQUIRED
    return FlowDecision.NEVER if rules.otherwise == UnmatchedPolicy.NEVER else FlowDecision.ASK
