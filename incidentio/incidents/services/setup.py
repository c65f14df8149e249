"""Default lifecycle configuration for a new organization (an ORG_SETUP_STEPS step)."""

from __future__ import annotations

from incidentio.incidents.models import (
    IncidentCounter,
    IncidentRole,
    IncidentStatus,
    IncidentType,
    RoleKind,
    Severity,
    StatusCategory,
    StatusMilestone,
)

DEFAULT_STATUSES = [
    # name, category, description, milestone
    ("Triage", StatusCategory.TRIAGE, "Reported, not yet confirmed as an incident.", ""),
    ("Investigating", StatusCategory.LIVE, "We are working out what is happening.", ""),
    ("Fixing", StatusCategory.LIVE, "We know what is wrong and are fixing it.", StatusMilestone.IDENTIFIED),
    ("Monitoring", StatusCategory.LIVE, "A fix is out; we are watching that it holds.", StatusMilestone.FIXED),
    ("Documenting", StatusCategory.LEARNING, "Writing down what happened.", ""),
    ("Reviewing", StatusCategory.LEARNING, "Reviewing what we learned with the team.", ""),
    ("Closed", StatusCategory.CLOSED, "Finished.", ""),
    ("Declined", StatusCategory.DECLINED, "Triaged and found not to be an incident.", ""),
    ("Merged", StatusCategory.MERGED, "Folded into another incident.", ""),
    ("Canceled", StatusCategory.CANCELED, "Declared by mistake.", ""),
]

DEFAULT_SEVERITIES = [
    ("Minor", "Some customers see a degraded experience; a workaround exists."),
    ("Major", "Many customers are affected or a key feature is down."),
    ("Critical", "The product is unavailable or data is at risk."),
]

DEFAULT_ROLES = [
    # name, shortform, kind, required, instructions
    (
        "Incident Lead",
        "lead",
        RoleKind.LEAD,
        True,
        "Coordinate the response: keep the status and summary current, decide, delegate.",
    ),
    ("Reporter", "reporter", RoleKind.REPORTER, False, "The person who declared the incident."),
]


def seed_incident_defaults(*, org) -> None:
    """Statuses, severities, roles, the default incident type and the reference counter of a new org."""
    IncidentStatus.objects.bulk_create(
        IncidentStatus(org=org, name=name, category=category, description=description, rank=rank, milestone=milestone)
        for rank, (name, category, description, milestone) in enumerate(DEFAULT_STATUSES)
    )
    Severity.objects.bulk_create(
        Severity(org=org, name=name, description=description, rank=rank)
        for rank, (name, description) in enumerate(DEFAULT_SEVERITIES)
    )
    IncidentRole.objects.bulk_create(
        IncidentRole(org=org, name=name, shortform=short, kind=kind, required=required, instructions=text, rank=rank)
        for rank, (name, short, kind, required, text) in enumerate(DEFAULT_ROLES)
    )
    IncidentCounter.objects.create(org=org)
    IncidentType.objects.create(
        org=org, name="Default", description="Incidents that are not of another type.", is_default=True
    )
