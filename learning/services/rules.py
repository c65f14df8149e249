"""Lifecycle rules: does a closed incident enter the learning flow, and which flow?

Rules are per incident type (``LifecycleRules.incident_type``): the flow the
type runs (null: the org's default flow), and when its incidents enter it.
"""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True)
class ClosePrompt:
    """What the close button tells whoever closes the incident: the decision,
    the flow it would run and where that flow starts, and whether the rule that
    requires it covers the whole type (rather than a severity)."""

    decision: FlowDecision
    flow_name: str = ""
    first_status_name: str = ""
    whole_type: bool = False


def close_prompt(incident: Incident) -> ClosePrompt:
    """``decide`` with what the incident page says about it."""
    rules = _rules(incident)
    flow = _flow(incident, rules)
    first = (
        LearningFlowStatus.objects.filter(flow=flow).select_related("status").order_by("rank", "pk").first()
        if flow is not None else None
    )
    # A flow without statuses has nothing to run: the incident closes straight.
    if first is None:
        return ClosePrompt(FlowDecision.NEVER)
    names = {"flow_name": flow.name, "first_status_name": first.status.name}
    if rules is None:
        return ClosePrompt(FlowDecision.ASK, **names)
    if rules.auto_enter_all:
        return ClosePrompt(FlowDecision.REQUIRED, whole_type=True, **names)
    threshold = rules.auto_enter_min_severity
    if threshold is not None and incident.severity is not None and incident.severity.rank >= threshold.rank:
        return ClosePrompt(FlowDecision.REQUIRED, **names)
    decision = FlowDecision.NEVER if rules.otherwise == UnmatchedPolicy.NEVER else FlowDecision.ASK
    return ClosePrompt(decision, **names)


def decide(incident: Incident) -> FlowDecision:
    return close_prompt(incident).decision
