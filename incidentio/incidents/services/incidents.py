"""Declaring an incident and moving it through its lifecycle.

Closing a live incident is the learning flow's decision (run it, opt out, or
the lifecycle rules): ``learning.services.flow.incident_close``. This module
knows nothing of the learning flow; its lock (``lock_incident``) and timeline
are what the flow builds on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from incidentio.common import limits
from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.common.text import full_stop
from incidentio.incidents.models import (
    INCIDENT_TIMESTAMPS,
    EventKind,
    Incident,
    IncidentCounter,
    IncidentRole,
    IncidentRoleAssignment,
    IncidentStatus,
    IncidentType,
    RoleKind,
    Severity,
    StatusCategory,
    StatusMilestone,
)
from incidentio.incidents.services.timeline import timeline_record
from orgs.models import Membership, Organization

UNSET = object()


# --- Helpers shared by the services below -------------------------------------


def lock_incident(incident: Incident) -> Incident:
    """Re-read the incident with its row locked until the transaction ends.

    Every lifecycle change goes through this lock, so two changes to one
    incident (two people closing it, an edit racing a close) run one after the
    other and the second sees the first's result.

    Only the incident row is locked, by a query without joins, and read again
    with its relations once the lock is held. Locking through a join is wrong
    under concurrency: a ``SELECT … JOIN status … FOR UPDATE`` that waited for
    another transaction which changed ``status_id`` (a close, an advance)
    re-checks the join against the old status row and returns *no row*
    (Postgres' EvalPlanQual), which surfaced as DoesNotExist → a 500 under load
    (tests/reliability/test_load.py). Locking the org and status rows would
    serialise unrelated incidents.
    """
    Incident.objects.select_for_update().filter(pk=incident.pk).values_list("pk", flat=True).get()
    return Incident.objects.select_related("status", "severity", "incident_type", "org").get(pk=incident.pk)


def _status_of(org: Organization, category: str) -> IncidentStatus:
    status = IncidentStatus.objects.filter(org=org, category=category).order_by("rank", "pk").first()
    if status is None:
        raise ServiceError(f"This organization has no {category} status configured.")
    return status


def default_incident_type(org: Organization) -> IncidentType:
    incident_type = IncidentType.objects.filter(org=org, is_default=True).first()
    if incident_type is None:
        raise ServiceError("This organization has no default incident type configured.")
    return incident_type


def _check_same_org(org: Organization, obj, field: str, what: str) -> None:
    if obj is not None and obj.org_id != org.pk:
        raise ServiceError(f"Unknown {what}.", field=field)


def _check_member(org: Organization, user, field: str) -> None:
    if user is not None and not Membership.objects.filter(org=org, user=user).exists():
        raise ServiceError(f"{user.email} is not a member of {full_stop(org.name)}", field=field)


def _clean_incident_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ServiceError("Give the incident a name.", field="name")
    return limits.check_length(name, limit=limits.INCIDENT_NAME, field="name", what="the name")


def _clean_summary(summary: str) -> str:
    summary = (summary or "").strip()
    return limits.check_length(summary, limit=limits.INCIDENT_SUMMARY, field="summary", what="the summary")


def _clean_reason(reason: str, *, missing: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError(missing, field="reason")
    return limits.check_length(reason, limit=limits.REASON, field="reason", what="the reason")


def _role_of_kind(org: Organization, kind: str) -> IncidentRole | None:
    return IncidentRole.objects.filter(org=org, kind=kind).first()


def _apply_milestone(incident: Incident, status: IncidentStatus, now: datetime) -> list[str]:
    """Set the timestamp a status marks, the first time only. Returns changed fields."""
    field = {StatusMilestone.IDENTIFIED: "identified_at", StatusMilestone.FIXED: "fixed_at"}.get(status.milestone)
    if field and getattr(incident, field) is None:
        setattr(incident, field, now)
        return [field]
    return []


def _change_status(incident: Incident, status: IncidentStatus, actor: Actor, *, kind=EventKind.STATUS_CHANGED) -> None:
    old = incident.status
    now = timezone.now()
    incident.status = status
    fields = ["status", "updated_at", *_apply_milestone(incident, status, now)]
    incident.save(update_fields=fields)
    timeline_record(
        incident=incident,
        kind=kind,
        actor=actor,
        text=f"Status changed from {old.name} to {status.name}",
        data={"from": old.name, "to": status.name, "from_id": str(old.public_id), "to_id": str(status.public_id)},
    )


# --- Declaring and triage ----------------------------------------------------------


@transaction.atomic
def incident_declare(
    *,
    org: Organization,
    actor: Actor,
    name: str,
    summary: str = "",
    severity: Severity | None = None,
    lead=None,
    triage: bool = False,
    incident_type: IncidentType | None = None,
) -> Incident:
    """Declare an incident, live at once or in triage, with the next reference.
    Without ``incident_type`` it gets the org's default type."""
    name = _clean_incident_name(name)
    summary = _clean_summary(summary)
    _check_same_org(org, severity, "severity", "severity")
    _check_same_org(org, incident_type, "incident_type", "incident type")
    incident_type = incident_type or default_incident_type(org)
    _check_member(org, lead, "lead")
    status = _status_of(org, StatusCategory.TRIAGE if triage else StatusCategory.LIVE)

    # The counter row lock serialises declares within one org: references are
    # handed out in commit order, and a rolled-back declare returns its number.
    counter, _ = IncidentCounter.objects.select_for_update().get_or_create(org=org)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])

    now = timezone.now()
    incident = Incident.objects.create(
        org=org,
        number=counter.last_number,
        name=name,
        summary=summary,
        status=status,
        severity=severity,
        incident_type=incident_type,
        created_by=actor.user,
        reported_at=now,
        accepted_at=None if triage else now,
    )
    # The reporter is part of the declaration (no event of its own): assigned
    # before the event, so the incident.created webhook shows them.
    reporter_role = _role_of_kind(org, RoleKind.REPORTER)
    if reporter_role is not None and actor.user is not None:
        IncidentRoleAssignment.objects.create(incident=incident, role=reporter_role, user=actor.user)
    timeline_record(
        incident=incident,
        kind=EventKind.DECLARED,
        actor=actor,
        text=f"{incident.reference} declared" + (" into triage" if triage else ""),
        data={"status": status.name, "severity": severity.name if severity else None},
        occurred_at=now,
    )
    if lead is not None:
        lead_role = _role_of_kind(org, RoleKind.LEAD)
        if lead_role is not None:
            _assign(incident, lead_role, lead, actor)
    return incident


def _require_triage(incident: Incident) -> None:
    if incident.status.category != StatusCategory.TRIAGE:
        raise ServiceError(f"{incident.reference} is not in triage.")


@transaction.atomic
def incident_accept(*, incident: Incident, actor: Actor) -> Incident:
    incident = lock_incident(incident)
    _require_triage(incident)
    incident.accepted_at = timezone.now()
    incident.save(update_fields=["accepted_at", "updated_at"])
    _change_status(incident, _status_of(incident.org, StatusCategory.LIVE), actor, kind=EventKind.ACCEPTED)
    return incident


@transaction.atomic
def incident_decline(*, incident: Incident, actor: Actor, reason: str) -> Incident:
    reason = _clean_reason(reason, missing="Say why this is not an incident.")
    incident = lock_incident(incident)
    _require_triage(incident)
    incident.status = _status_of(incident.org, StatusCategory.DECLINED)
    incident.closed_at = timezone.now()
    incident.save(update_fields=["status", "closed_at", "updated_at"])
    timeline_record(incident=incident, kind=EventKind.DECLINED, actor=actor, text=reason, data={"reason": reason})
    return incident


@transaction.atomic
def incident_merge(*, incident: Incident, actor: Actor, into: Incident) -> Incident:
    incident = lock_incident(incident)
    _require_triage(incident)
    if into.org_id != incident.org_id:
        raise ServiceError("Unknown incident to merge into.", field="into")
    if into.pk == incident.pk:
        raise ServiceError("An incident cannot be merged into itself.", field="into")
    if into.is_finished:
        raise ServiceError(f"{into.reference} is finished; merge into an open incident.", field="into")
    incident.status = _status_of(incident.org, StatusCategory.MERGED)
    incident.merged_into = into
    incident.closed_at = timezone.now()
    incident.save(update_fields=["status", "merged_into", "closed_at", "updated_at"])
    timeline_record(
        incident=incident,
        kind=EventKind.MERGED,
        actor=actor,
        text=f"Merged into {into.reference} {into.name}",
        data={"into": str(into.public_id), "into_reference": into.reference},
    )
    return incident


@transaction.atomic
def incident_cancel(*, incident: Incident, actor: Actor, reason: str) -> Incident:
    """Declared by mistake: leaves triage or live without a learning flow."""
    reason = _clean_reason(reason, missing="Say why the incident is canceled.")
    incident = lock_incident(incident)
    if incident.status.category not in (StatusCategory.TRIAGE, StatusCategory.LIVE):
        raise ServiceError(f"{incident.reference} can no longer be canceled.")
    old = incident.status
    incident.status = _status_of(incident.org, StatusCategory.CANCELED)
    incident.closed_at = timezone.now()
    incident.save(update_fields=["status", "closed_at", "updated_at"])
    timeline_record(
        incident=incident,
        kind=EventKind.STATUS_CHANGED,
        actor=actor,
        text=f"Status changed from {old.name} to {incident.status.name}: {reason}",
        data={"from": old.name, "to": incident.status.name, "reason": reason},
    )
    return incident


# --- Editing a live incident ------------------------------------------------------------


@transaction.atomic
def incident_edit(
    *,
    incident: Incident,
    actor: Actor,
    name=UNSET,
    summary=UNSET,
    severity=UNSET,
    status=UNSET,
    incident_type=UNSET,
) -> Incident:
    """Change any of name, summary, severity, live status and type; one event per change.

    ``status`` must be a live status, and only a live incident changes status
    here (triage is left with accept/decline/merge, live with close).
    """
    incident = lock_incident(incident)
    org = incident.org
    if name is not UNSET:
        name = _clean_incident_name(name)
    if summary is not UNSET:
        summary = _clean_summary(summary)
    if severity is not UNSET:
        _check_same_org(org, severity, "severity", "severity")
    if incident_type is not UNSET:
        _check_type(org, incident_type)
    if status is not UNSET:
        _check_same_org(org, status, "status", "status")
        if status.category != StatusCategory.LIVE:
            raise ServiceError("Choose a live status; use Close to end the incident.", field="status")
        if not incident.is_live:
            raise ServiceError(
                f"{incident.reference} is {incident.status.name.lower()}; its live status cannot change.",
                field="status",
            )

    if name is not UNSET and name != incident.name:
        old = incident.name
        incident.name = name
        incident.save(update_fields=["name", "updated_at"])
        timeline_record(incident=incident, kind=EventKind.RENAMED, actor=actor,
                        text=f"Renamed from “{old}” to “{name}”", data={"from": old, "to": name})
    if summary is not UNSET and summary != incident.summary:
        incident.summary = summary
        incident.save(update_fields=["summary", "updated_at"])
        timeline_record(incident=incident, kind=EventKind.SUMMARY_UPDATED, actor=actor, text=incident.summary)
    if severity is not UNSET and severity != incident.severity:
        old = incident.severity
        incident.severity = severity
        incident.save(update_fields=["severity", "updated_at"])
        old_name, new_name = (old.name if old else "none"), (severity.name if severity else "none")
        timeline_record(incident=incident, kind=EventKind.SEVERITY_CHANGED, actor=actor,
                        text=f"Severity changed from {old_name} to {new_name}",
                        data={"from": old_name, "to": new_name})
    if status is not UNSET and status != incident.status:
        _change_status(incident, status, actor)
    if incident_type is not UNSET:
        _change_type(incident, incident_type, actor)
    return incident


def _check_type(org: Organization, incident_type: IncidentType | None) -> None:
    if incident_type is None:
        raise ServiceError("Choose an incident type.", field="incident_type")
    _check_same_org(org, incident_type, "incident_type", "incident type")


def _change_type(incident: Incident, incident_type: IncidentType, actor: Actor) -> None:
    """Only the type changes: the learning flow an incident entered, and its
    tasks, stay those of the type it had then."""
    if incident_type.pk == incident.incident_type_id:
        return
    old = incident.incident_type
    incident.incident_type = incident_type
    incident.save(update_fields=["incident_type", "updated_at"])
    timeline_record(
        incident=incident, kind=EventKind.TYPE_CHANGED, actor=actor,
        text=f"Type changed from {old.name} to {incident_type.name}",
        data={"from": old.name, "to": incident_type.name,
              "from_id": str(old.public_id), "to_id": str(incident_type.public_id)},
    )


@transaction.atomic
def incident_type_change(*, incident: Incident, actor: Actor, incident_type: IncidentType) -> Incident:
    """Give the incident another of its org's types (nothing happens when it has it already)."""
    _check_type(incident.org, incident_type)
    incident = lock_incident(incident)
    _change_type(incident, incident_type, actor)
    return incident


def _assign(incident: Incident, role: IncidentRole, user, actor: Actor) -> None:
    current = IncidentRoleAssignment.objects.filter(incident=incident, role=role).select_related("user").first()
    if user is None:
        if current is None:
            return
        current.delete()
        timeline_record(incident=incident, kind=EventKind.ROLE_UNASSIGNED, actor=actor,
                        text=f"{current.user.display_name} is no longer {role.name}",
                        data={"role": role.name, "role_id": str(role.public_id), "user_id": current.user_id})
        return
    if current is not None and current.user_id == user.pk:
        return
    IncidentRoleAssignment.objects.update_or_create(
        incident=incident, role=role, defaults={"user": user, "assigned_at": timezone.now()}
    )
    timeline_record(incident=incident, kind=EventKind.ROLE_ASSIGNED, actor=actor,
                    text=f"{user.display_name} is now {role.name}",
                    data={"role": role.name, "role_id": str(role.public_id), "user_id": user.pk,
                          "role_kind": role.kind})


@transaction.atomic
def incident_assign_role(*, incident: Incident, actor: Actor, role: IncidentRole, user) -> Incident:
    """Give ``role`` to ``user`` (a member), or take it away with ``user=None``."""
    incident = lock_incident(incident)
    _check_same_org(incident.org, role, "role", "role")
    _check_member(incident.org, user, "user")
    if incident.is_finished and incident.status.category != StatusCategory.CLOSED:
        raise ServiceError(f"{incident.reference} is {incident.status.name.lower()}; roles are frozen.")
    _assign(incident, role, user, actor)
    return incident


@transaction.atomic
def incident_post_update(*, incident: Incident, actor: Actor, message: str) -> Incident:
    message = message.strip()
    if not message:
        raise ServiceError("Write the update first.", field="message")
    limits.check_length(message, limit=limits.UPDATE_MESSAGE, field="message", what="an update")
    incident = lock_incident(incident)
    timeline_record(incident=incident, kind=EventKind.UPDATE_POSTED, actor=actor, text=message)
    return incident


@transaction.atomic
def incident_update_timestamps(*, incident: Incident, actor: Actor, values: dict[str, datetime | None]) -> Incident:
    """Correct the incident's timestamps (the "Update timestamps" task points here)."""
    known = {field for field, _ in INCIDENT_TIMESTAMPS}
    unknown = set(values) - known
    if unknown:
        raise ServiceError(f"Unknown timestamp {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    if values.get("reported_at", UNSET) is None:
        raise ServiceError("An incident always has a reported time.", field="reported_at")
    incident = lock_incident(incident)
    labels = dict(INCIDENT_TIMESTAMPS)
    changed = {f: v for f, v in values.items() if getattr(incident, f) != v}
    if not changed:
        return incident
    for field, value in changed.items():
        setattr(incident, field, value)
    incident.save(update_fields=[*changed, "updated_at"])
    lines = [
        # In UTC whoever corrects them: the text goes to Slack too, where there is no viewer's zone.
        f"{labels[f]}: {v.astimezone(UTC).strftime('%Y-%m-%d %H:%M %Z') if v else 'cleared'}"
        for f, v in changed.items()
    ]
    timeline_record(incident=incident, kind=EventKind.TIMESTAMPS_UPDATED, actor=actor,
                    text="; ".join(lines),
                    data={f: v.isoformat() if v else None for f, v in changed.items()})
    return incident
