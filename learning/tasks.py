"""Celery tasks of the learning flow. They take ids and are safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db.models import Exists, OuterRef

from incidentio.models import Incident, LearningFlowState
from learning.models import LearningTask, TaskState
from learning.services.flow import learning_advance

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def advance_incident(incident_id: int, from_status_id: int) -> bool:
    """Advance after the last task of a status was addressed (enqueued on commit)."""
    return learning_advance(incident_id=incident_id, from_status_id=from_status_id)


@shared_task
def repair_stuck_incidents() -> int:
    """Beat: advance incidents whose tasks are all addressed but which did not move
    (their advance job was lost). Returns how many were repaired."""
    outstanding = LearningTask.objects.filter(
        incident=OuterRef("pk"), status=OuterRef("status"), required=True, state=TaskState.OUTSTANDING
    )
    stuck = (
        Incident.objects.filter(learning_flow=LearningFlowState.RUNNING)
        .annotate(blocked=Exists(outstanding))
        .filter(blocked=False)
        .values_list("pk", "status_id")[:500]
    )
    repaired = sum(learning_advance(incident_id=pk, from_status_id=status_id) for pk, status_id in stuck)
    if repaired:
        logger.warning("Repaired %d incident(s) whose learning-flow advance was lost.", repaired)
    return repaired
