"""An org's lifecycle configuration: statuses, severities, incident roles and incident types."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max, Model, QuerySet

from incidentio.common import limits
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import (
    CONFIGURABLE_CATEGORIES,
    Incident,
    IncidentRole,
    IncidentStatus,
    IncidentType,
    RoleKind,
    Severity,
    StatusMilestone,
)
from orgs.models import Organization


def _clean_name(name: str, *, queryset: QuerySet, exclude: Model | None = None, what: str) -> str:
    name = name.strip()
    if not name:
        raise ServiceError(f"Give the {what} a name.", field="name")
    limits.check_length(name, limit=limits.CONFIG_NAME, field="name", what="the name")
    clash = queryset.filter(name__iexact=name)
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    if clash.exists():
        raise ServiceError(f"There is already a {what} called “{name}”.", field="name")
    return name


def _clean_text(text: str, *, field: str) -> str:
    """A status's or severity's description, a role's instructions."""
    return limits.check_length(text.strip(), limit=limits.CONFIG_TEXT, field=field, what=f"the {field}")


def _next_rank(queryset: QuerySet) -> int:
    return (queryset.aggregate(m=Max("rank"))["m"] or 0) + 1


@transaction.atomic
def move_among(obj: Model, siblings: QuerySet, direction: str) -> None:
    """Swap ``obj`` with its neighbour among ``siblings`` (ordered by rank)."""
    if direction not in ("up", "down"):
        raise ServiceError("Move up or down.")
    ordered = list(siblings.select_for_update().order_by("rank", "pk"))
    index = next(i for i, o in enumerate(ordered) if o.pk == obj.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        return
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for rank, item in enumerate(ordered):
        if item.rank != rank:
            item.rank = rank
            item.save(update_fields=["rank"])


# --- Statuses ---------------------------------------------------------------------


def _check_configurable_category(category: str) -> None:
    if category not in CONFIGURABLE_CATEGORIES:
        raise ServiceError("Only live and learning statuses can be added or changed.", field="category")


def _check_milestone(milestone: str, category: str) -> str:
    if milestone not in StatusMilestone.values:
        raise ServiceError(f"Unknown milestone “{milestone}”.", field="milestone")
    if milestone and category != "live":
        raise ServiceError("Only live statuses set the identified or fixed time.", field="milestone")
    return milestone


@transaction.atomic
def status_create(*, org: Organization, name: str, category: str, description: str = "", milestone: str = "") -> IncidentStatus:
    _check_configurable_category(category)
    statuses = IncidentStatus.objects.filter(org=org)
    return IncidentStatus.objects.create(
        org=org,
        name=_clean_name(name, queryset=statuses, what="status"),
        category=category,
        description=_clean_text(description, field="description"),
        milestone=_check_milestone(milestone, category),
        rank=_next_rank(statuses),
    )


@transaction.atomic
def status_update(*, status: IncidentStatus, name: str, description: str = "", milestone: str | None = None) -> IncidentStatus:
    siblings = IncidentStatus.objects.filter(org_id=status.org_id)
    status.name = _clean_name(name, queryset=siblings, exclude=status, what="status")
    status.description = _clean_text(description, field="description")
    if milestone is not None:
        if not status.is_configurable and milestone:
            raise ServiceError("Fixed statuses do not set timestamps.", field="milestone")
        status.milestone = _check_milestone(milestone, status.category)
    status.save(update_fields=["name", "description", "milestone"])
    return status


def status_move(*, status: IncidentStatus, direction: str) -> None:
    _check_configurable_category(status.category)
    move_among(status, IncidentStatus.objects.filter(org_id=status.org_id, category=status.category), direction)


@transaction.atomic
def status_delete(*, status: IncidentStatus, replacement: IncidentStatus | None = None) -> int:
    """Delete a live or learning status, moving its incidents to ``replacement``.

    Returns how many incidents moved. A status in use needs a replacement of
    the same category; the last live status cannot go.
    """
    _check_configurable_category(status.category)
    # Lock the category's statuses (evaluated: .count() would drop FOR UPDATE) so
    # two concurrent deletes cannot both pass the "last live status" check.
    siblings = list(IncidentStatus.objects.select_for_update().filter(org_id=status.org_id, category=status.category))
    if status.category == "live" and len(siblings) <= 1:
        raise ServiceError("An organization needs at least one live status.")
    from learning.models import LearningTask  # a learning status also labels its tasks

    in_use = Incident.objects.filter(status=status)
    tasks = LearningTask.objects.filter(status=status)
    moved = 0
    if in_use.exists() or tasks.exists():
        if replacement is None:
            raise ServiceError(
                f"{status.name} is in use ({in_use.count()} incident(s), {tasks.count()} learning task(s)); "
                "choose the status they move to.",
                field="replacement",
            )
        if replacement.org_id != status.org_id or replacement.category != status.category or replacement.pk == status.pk:
            raise ServiceError(f"Choose another {status.category} status.", field="replacement")
        moved = in_use.update(status=replacement)
        tasks.update(status=replacement)
    status.delete()
    return moved


# --- Severities -------------------------------------------------------------------


@transaction.atomic
def severity_create(*, org: Organization, name: str, description: str = "") -> Severity:
    severities = Severity.objects.filter(org=org)
    return Severity.objects.create(
        org=org,
        name=_clean_name(name, queryset=severities, what="severity"),
        description=_clean_text(description, field="description"),
        rank=_next_rank(severities),
    )


def severity_update(*, severity: Severity, name: str, description: str = "") -> Severity:
    severity.name = _clean_name(name, queryset=Severity.objects.filter(org_id=severity.org_id), exclude=severity, what="severity")
    severity.description = _clean_text(description, field="description")
    severity.save(update_fields=["name", "description"])
    return severity


def severity_move(*, severity: Severity, direction: str) -> None:
    move_among(severity, Severity.objects.filter(org_id=severity.org_id), direction)


@transaction.atomic
def severity_delete(*, severity: Severity, replacement: Severity | None = None) -> int:
    # Lock the org's severities (evaluated: .count() would drop FOR UPDATE) so
    # two concurrent deletes cannot both pass the "last severity" check.
    siblings = list(Severity.objects.select_for_update().filter(org_id=severity.org_id))
    if len(siblings) <= 1:
        raise ServiceError("An organization needs at least one severity.")
    in_use = Incident.objects.filter(severity=severity)
    moved = 0
    if in_use.exists():
        if replacement is None:
            raise ServiceError(
                f"{in_use.count()} incident(s) have severity {severity.name}; choose where they go.",
                field="replacement",
            )
        if replacement.org_id != severity.org_id or replacement.pk == severity.pk:
            raise ServiceError("Choose another severity.", field="replacement")
        moved = in_use.update(severity=replacement)
    severity.delete()
    return moved


# --- Incident roles ---------------------------------------------------------------------


def _clean_shortform(shortform: str, *, org_id: int, exclude: IncidentRole | None = None) -> str:
    shortform = shortform.strip().lower().replace(" ", "-")
    if not shortform:
        raise ServiceError("Give the role a short form, e.g. “comms”.", field="shortform")
    limits.check_length(shortform, limit=limits.ROLE_SHORTFORM, field="shortform", what="the short form")
    clash = IncidentRole.objects.filter(org_id=org_id, shortform=shortform)
    if exclude is not None:
        clash = clash.exclude(pk=exclude.pk)
    if clash.exists():
        raise ServiceError(f"Another role uses the short form “{shortform}”.", field="shortform")
    return shortform


@transaction.atomic
def role_create(*, org: Organization, name: str, shortform: str, instructions: str = "", required: bool = False) -> IncidentRole:
    roles = IncidentRole.objects.filter(org=org)
    return IncidentRole.objects.create(
        org=org,
        name=_clean_name(name, queryset=roles, what="role"),
        shortform=_clean_shortform(shortform, org_id=org.pk),
        instructions=_clean_text(instructions, field="instructions"),
        required=required,
        kind=RoleKind.CUSTOM,
        rank=_next_rank(roles),
    )


def role_update(*, role: IncidentRole, name: str, shortform: str, instructions: str = "", required: bool = False) -> IncidentRole:
    role.name = _clean_name(name, queryset=IncidentRole.objects.filter(org_id=role.org_id), exclude=role, what="role")
    role.shortform = _clean_shortform(shortform, org_id=role.org_id, exclude=role)
    role.instructions = _clean_text(instructions, field="instructions")
    role.required = True if role.kind == RoleKind.LEAD else required
    role.save(update_fields=["name", "shortform", "instructions", "required"])
    return role


def role_move(*, role: IncidentRole, direction: str) -> None:
    move_among(role, IncidentRole.objects.filter(org_id=role.org_id), direction)


def role_delete(*, role: IncidentRole) -> None:
    if role.kind != RoleKind.CUSTOM:
        raise ServiceError(f"{role.name} is built in and cannot be deleted; rename it instead.")
    role.delete()


# --- Incident types ------------------------------------------------------------------


@transaction.atomic
def incident_type_create(*, org: Organization, name: str, description: str = "") -> IncidentType:
    """A new type, last in the org's order; never the default (make it so after)."""
    types = IncidentType.objects.filter(org=org)
    return IncidentType.objects.create(
        org=org,
        name=_clean_name(name, queryset=types, what="type"),
        description=_clean_text(description, field="description"),
        rank=_next_rank(types),
    )


def incident_type_update(*, incident_type: IncidentType, name: str, description: str = "") -> IncidentType:
    siblings = IncidentType.objects.filter(org_id=incident_type.org_id)
    incident_type.name = _clean_name(name, queryset=siblings, exclude=incident_type, what="type")
    incident_type.description = _clean_text(description, field="description")
    incident_type.save(update_fields=["name", "description"])
    return incident_type


def incident_type_move(*, incident_type: IncidentType, direction: str) -> None:
    move_among(incident_type, IncidentType.objects.filter(org_id=incident_type.org_id), direction)


@transaction.atomic
def incident_type_make_default(*, incident_type: IncidentType) -> IncidentType:
    """Make ``incident_type`` the one its org's new incidents get when none is chosen.

    The org's types are locked, then the old default is cleared before the new
    one is set, in one transaction: the one-default constraint holds at every
    statement and no declare sees the org without a default."""
    types = list(IncidentType.objects.select_for_update().filter(org_id=incident_type.org_id))
    if any(t.pk == incident_type.pk and t.is_default for t in types):
        return incident_type
    IncidentType.objects.filter(org_id=incident_type.org_id, is_default=True).update(is_default=False)
    IncidentType.objects.filter(pk=incident_type.pk).update(is_default=True)
    incident_type.is_default = True
    return incident_type


@transaction.atomic
def incident_type_delete(*, incident_type: IncidentType) -> None:
    """Delete a type no incident has. The default type stays: declares need it.

    Incidents keep their type for good (it chose their learning flow), so a
    type in use is not deleted by moving its incidents elsewhere."""
    # Lock the org's types so a concurrent "make default" cannot make this one the default meanwhile.
    types = {t.pk: t for t in IncidentType.objects.select_for_update().filter(org_id=incident_type.org_id)}
    current = types.get(incident_type.pk)
    if current is None:
        raise ServiceError("This incident type no longer exists.")
    if current.is_default:
        raise ServiceError(
            f"{current.name} is the default type and cannot be deleted; make another type the default first."
        )
    in_use = Incident.objects.filter(incident_type=current).count()
    if in_use:
        raise ServiceError(
            f"{current.name} is the type of {in_use} incident(s) and cannot be deleted; "
            "incidents keep their type. Rename it instead."
        )
    current.delete()
