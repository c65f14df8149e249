"""Incidents written straight into the table with the timestamps a test
chooses, for the Insights panel tests: the panels read timestamps and states,
not how they came about (the services that set them have their own tests)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.http import QueryDict

from incidentio.incidents.models import (
    Incident,
    IncidentStatus,
    IncidentType,
    LearningFlowState,
    Severity,
    StatusCategory,
)
from insights.filters import insight_filters_parse

NEW_YORK = "America/New_York"


def local(text: str, time_zone: str = NEW_YORK) -> datetime:
    """An aware moment from a local wall-clock time, e.g. ``local("2026-10-31 23:59")``."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(time_zone))


def status(org, name: str) -> IncidentStatus:
    return IncidentStatus.objects.get(org=org, name=name)


def severity(org, name: str) -> Severity:
    return Severity.objects.get(org=org, name=name)


def incident(org, *, reported_at: datetime, status_name: str = "Investigating", severity_name: str | None = None,
             incident_type: IncidentType | None = None, learning_flow: str = LearningFlowState.NOT_ENTERED,
             opt_out_reason: str = "", **timestamps) -> Incident:
    """One incident of ``org`` with the next reference; ``timestamps`` are
    the other ``*_at`` fields (``closed_at=…``)."""
    number = Incident.objects.filter(org=org).count() + 1
    return Incident.objects.create(
        org=org, number=number, name=f"Incident {number}", status=status(org, status_name),
        severity=severity(org, severity_name) if severity_name else None,
        incident_type=incident_type or IncidentType.objects.get(org=org, is_default=True),
        learning_flow=learning_flow, opt_out_reason=opt_out_reason, reported_at=reported_at, **timestamps,
    )


def incident_in_category(org, category=StatusCategory.CLOSED, **fields) -> Incident:
    """One incident of ``org`` in the first status of ``category``, with the next reference."""
    number = Incident.objects.filter(org=org).count() + 1
    fields.setdefault("incident_type", IncidentType.objects.get(org=org, is_default=True))
    status = IncidentStatus.objects.filter(org=org, category=category).first()
    return Incident.objects.create(org=org, number=number, name="Checkout down", status=status, **fields)


def filters_for(org, query: str, *, today="2026-12-01"):
    """The Insights filters a page with this query string would read."""
    return insight_filters_parse(org, QueryDict(query), today=date.fromisoformat(today))
