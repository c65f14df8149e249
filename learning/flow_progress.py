"""Telling the person whose action finished a learning status that the incident
moves on (docs/dashboard.md, "The close prompt and learning progress").

The move itself is asynchronous: the last task addressed enqueues
``learning.tasks.advance_incident`` on commit, and a Celery worker moves the
incident, usually within the second — but maybe after the redirect that
follows the action. So the dashboard reads the incident again once the action
has committed and says what is true then: "moved to Reviewing" when the worker
(or, in tests, eager Celery) was faster, else "moving to Reviewing", which the
advance guarantees (the repair sweep moves an incident whose job was lost).
"""

from __future__ import annotations

from dataclasses import dataclass

from incidentio.incidents.models import Incident, LearningFlowState
from learning.services import flow


@dataclass(frozen=True)
class Before:
    incident_id: int
    status_id: int
    status_name: str


def snapshot(incident: Incident) -> Before | None:
    """Where a running incident is before an action (None: not in the flow, no query)."""
    if incident.learning_flow != LearningFlowState.RUNNING:
        return None
    return Before(incident.pk, incident.status_id, incident.status.name)


def announcement(before: Before | None) -> str:
    """The sentence to add to the action's message: "" unless the action left
    the status it started in finished."""
    if before is None:
        return ""
    incident = Incident.objects.select_related("status").get(pk=before.incident_id)
    done = f"All {before.status_name} tasks are done:"
    if incident.status_id != before.status_id:
        if incident.learning_flow == LearningFlowState.COMPLETED:
            return f"{done} the learning flow is complete and the incident is closed."
        if incident.learning_flow == LearningFlowState.RUNNING:
            return f"{done} the incident moved to {incident.status.name}."
        return ""  # it left the flow (opted out): the action's own message says so
    if incident.learning_flow != LearningFlowState.RUNNING or not flow.status_finished(incident):
        return ""
    steps = flow.flow_steps(flow.run_flow_id(incident))
    following = flow.following_step(steps, incident.status, flow.visited_steps(incident))
    if following is None:
        return f"{done} the learning flow is completing and the incident closing."
    return f"{done} the incident is moving to {following.name}."
