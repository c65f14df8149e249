"""Celery tasks of the learning flow. They take ids and are safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from incidentio.config.celery import PRIORITY_BACKGROUND
from learning.services.digests import digest_sweep
from learning.services.flow import learning_advance, learning_repair_stuck
from learning.services.reminders import reminders_sweep

logger = logging.getLogger(__name__)


@shared_task(acks_late=True)
def advance_incident(incident_id: int, from_status_id: int) -> bool:
    """Advance after the last task of a status was addressed (enqueued on commit)."""
    return learning_advance(incident_id=incident_id, from_status_id=from_status_id)


@shared_task
def repair_stuck_incidents() -> int:
    """Beat: advance incidents whose tasks are all addressed but which did not move
    (their advance job was lost). Returns how many were repaired."""
    repaired = learning_repair_stuck()
    if repaired:
        logger.warning("Repaired %d incident(s) whose learning-flow advance was lost.", repaired)
    return repaired


@shared_task(priority=PRIORITY_BACKGROUND)
def send_due_digests(at: str | None = None) -> int:
    """Beat (every 5 minutes): send each digest whose hour has come, once per
    period (``learning.services.digests``). ``at`` (ISO 8601) sweeps as if it
    were then. Returns how many digests were sent."""
    now = parse_datetime(at) if at else timezone.now()
    if now is None or timezone.is_naive(now):
        raise ValueError(f"not an ISO 8601 moment with its offset: {at!r}")
    return digest_sweep(now=now)
@shared_task(priority=PRIORITY_BACKGROUND)
def send_due_reminders() -> int:
    """Beat: send the reminders and escalations whose slot has come
    (``learning.services.reminders``). Returns how many messages were queued."""
    result = reminders_sweep()
    return result.reminders + result.escalations
