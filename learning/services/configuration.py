"""Admins editing the learning flows: the flows, their ordered learning
statuses, the task templates of each (flow, status) with their due rules, and
the lifecycle rules of each incident type.

An incident keeps the flow it entered and the tasks it was given: nothing
here rewrites them (tasks are snapshots; ``LearningRun`` is fixed at entry).
A flow's later steps do follow its edits (``learning.services.flow``)."""

from __future__ import annotations

from django.db import transaction

from incidentio.common import limits
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import IncidentRole, IncidentStatus, IncidentType, Severity, StatusCategory
from incidentio.incidents.services.configuration import move_among, status_create
from learning.models import (
    DueFrom,
    LearningFlow,
    LearningFlowStatus,
    LearningRun,
    LifecycleRules,
    TaskKind,
    TaskTemplate,
    UnmatchedPolicy,
)

#: The longest due rule: a year of business days is plenty for a learning task.
MAX_DUE_DAYS = 365


def _clean_instructions(instructions: str) -> str:
    return limits.check_length(
        instructions.strip(), limit=limits.CONFIG_TEXT, field="instructions", what="the instructions"
    )


def _clean_template(org, *, status, title, kind, assignee_role, target_role) -> dict:
    title = (title or "").strip()
    if not title:
        raise ServiceError("Give the task a title.", field="title")
    limits.check_length(title, limit=limits.TASK_TITLE, field="title", what="the title")
    if kind not in TaskKind.values:
        raise ServiceError(f"Unknown task kind “{kind}”.", field="kind")
    if status.org_id != org.pk or status.category != StatusCategory.LEARNING:
        raise ServiceError("Choose one of the organization's learning statuses.", field="status")
    for role, field in ((assignee_role, "assignee_role"), (target_role, "target_role")):
        if role is not None and role.org_id != org.pk:
            raise ServiceError("Choose one of the organization's roles.", field=field)
    if kind == TaskKind.ASSIGN_ROLE and target_role is None:
        raise ServiceError("A task of kind “Assign a role” needs the role to assign.", field="target_role")
    if kind != TaskKind.ASSIGN_ROLE:
        target_role = None
    return {"status": status, "title": title, "kind": kind, "assignee_role": assignee_role, "target_role": target_role}


def clean_due_rule(due_days, due_from: str) -> tuple[int | None, str]:
    """A template's due rule: ``due_days`` business days (0..365, or None for no
    due date) after ``due_from`` (``DueFrom``)."""
    if due_days is not None and (
        isinstance(due_days, bool) or not isinstance(due_days, int) or not 0 <= due_days <= MAX_DUE_DAYS
    ):
        raise ServiceError(f"A task is due 0 to {MAX_DUE_DAYS} business days later, or has no due date.",
                           field="due_days")
    if due_from not in DueFrom.values:
        raise ServiceError("Count the days from when the task is created or from when the incident was resolved.",
                           field="due_from")
    return due_days, due_from


def _check_flow(org, flow: LearningFlow) -> None:
    if flow.org_id != org.pk:
        raise ServiceError("Choose one of the organization's learning flows.", field="flow")


@transaction.atomic
def template_create(
    *, org, status: IncidentStatus, title: str, kind: str = TaskKind.CUSTOM, instructions: str = "",
    required: bool = True, assignee_role: IncidentRole | None = None, target_role: IncidentRole | None = None,
    flow: LearningFlow | None = None, due_days: int | None = None, due_from: str = DueFrom.TASK_CREATED,
) -> TaskTemplate:
    """A template of ``status`` in ``flow`` (default: the org's default flow), which must be one of its steps."""
    fields = _clean_template(org, status=status, title=title, kind=kind, assignee_role=assignee_role,
                             target_role=target_role)
    flow = flow or LearningFlow.objects.get(org=org, is_default=True)
    _check_flow(org, flow)
    if not LearningFlowStatus.objects.filter(flow=flow, status=status).exists():
        raise ServiceError(f"“{status.name}” is not a status of the {flow.name} flow; add it to the flow first.",
                           field="status")
    due_days, due_from = clean_due_rule(due_days, due_from)
    siblings = TaskTemplate.objects.filter(flow=flow, status=status)
    instructions = _clean_instructions(instructions)
    rank = (max(siblings.values_list("rank", flat=True), default=-1)) + 1
    return TaskTemplate.objects.create(
        org=org, flow=flow, instructions=instructions, required=required, rank=rank, due_days=due_days,
        due_from=due_from, **fields
    )


@transaction.atomic
def template_update(
    *, template: TaskTemplate, title: str, kind: str, instructions: str = "", required: bool = True,
    assignee_role: IncidentRole | None = None, target_role: IncidentRole | None = None,
    due_days: int | None = None, due_from: str = DueFrom.TASK_CREATED,
) -> TaskTemplate:
    """Edit a template; tasks already made from it keep their copy."""
    fields = _clean_template(template.org, status=template.status, title=title, kind=kind,
                             assignee_role=assignee_role, target_role=target_role)
    instructions = _clean_instructions(instructions)
    template.due_days, template.due_from = clean_due_rule(due_days, due_from)
    for name, value in fields.items():
        setattr(template, name, value)
    template.instructions = instructions
    template.required = required
    template.save()
    return template


@transaction.atomic
def template_move(*, template: TaskTemplate, direction: str) -> None:
    move_among(
        template, TaskTemplate.objects.filter(flow_id=template.flow_id, status_id=template.status_id), direction
    )


def template_delete(*, template: TaskTemplate) -> None:
    template.delete()


# --- Lifecycle rules, per incident type --------------------------------------------------


@transaction.atomic
def rules_update(
    *, org, incident_type: IncidentType | None = None, learning_flow: LearningFlow | None = None,
    auto_enter_all: bool = False, auto_enter_min_severity: Severity | None, otherwise: str,
) -> LifecycleRules:
    """Set all of an incident type's rules (default: the org's default type's).

    ``learning_flow`` None: the type runs the org's default flow, whichever
    that is. Incidents already in a flow keep theirs.
    """
    if incident_type is None:
        incident_type = IncidentType.objects.get(org=org, is_default=True)
    elif incident_type.org_id != org.pk:
        raise ServiceError("Choose one of the organization's incident types.", field="incident_type")
    if learning_flow is not None and learning_flow.org_id != org.pk:
        raise ServiceError("Choose one of the organization's learning flows.", field="learning_flow")
    if auto_enter_min_severity is not None and auto_enter_min_severity.org_id != org.pk:
        raise ServiceError("Choose one of the organization's severities.", field="auto_enter_min_severity")
    if otherwise not in UnmatchedPolicy.values:
        raise ServiceError("Choose “ask” or “never” for the other incidents.", field="otherwise")
    rules, _ = LifecycleRules.objects.select_for_update().get_or_create(incident_type=incident_type,
                                                                        defaults={"org": org})
    rules.learning_flow = learning_flow
    rules.auto_enter_all = bool(auto_enter_all)
    rules.auto_enter_min_severity = auto_enter_min_severity
    rules.otherwise = otherwise
    rules.save()
    return rules


# --- Flows -----------------------------------------------------------------------------


def _clean_flow_name(org, name: str, *, exclude: LearningFlow | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ServiceError("Give the flow a name.", field="name")
    limits.check_length(name, limit=limits.CONFIG_NAME, field="name", what="the name")
    others = LearningFlow.objects.filter(org=org, name__iexact=name)
    if exclude is not None:
        others = others.exclude(pk=exclude.pk)
    if others.exists():
        raise ServiceError(f"There is already a flow called “{name}”.", field="name")
    return name


def _clean_description(description: str) -> str:
    return limits.check_length((description or "").strip(), limit=limits.CONFIG_TEXT, field="description",
                               what="the description")


@transaction.atomic
def flow_create(*, org, name: str, description: str = "") -> LearningFlow:
    """A new flow, with no statuses yet: an incident type running it closes straight until it has one."""
    return LearningFlow.objects.create(
        org=org, name=_clean_flow_name(org, name), description=_clean_description(description)
    )


@transaction.atomic
def flow_update(*, flow: LearningFlow, name: str, description: str = "") -> LearningFlow:
    flow.name = _clean_flow_name(flow.org, name, exclude=flow)
    flow.description = _clean_description(description)
    flow.save(update_fields=["name", "description"])
    return flow


@transaction.atomic
def flow_make_default(*, flow: LearningFlow) -> LearningFlow:
    """Make ``flow`` the org's default: the flow of every type that does not name one."""
    LearningFlow.objects.select_for_update().filter(org_id=flow.org_id).exists()
    # One default per org is a unique constraint: clear the old one first.
    LearningFlow.objects.filter(org_id=flow.org_id, is_default=True).exclude(pk=flow.pk).update(is_default=False)
    LearningFlow.objects.filter(pk=flow.pk).update(is_default=True)
    flow.is_default = True
    return flow


@transaction.atomic
def flow_delete(*, flow: LearningFlow) -> None:
    """Delete a flow no incident ran and no incident type names; never the default."""
    flow = LearningFlow.objects.select_for_update().get(pk=flow.pk)
    if flow.is_default:
        raise ServiceError(f"{flow.name} is the default flow; make another flow the default first.")
    types = list(
        LifecycleRules.objects.filter(learning_flow=flow).values_list("incident_type__name", flat=True)
    )
    if types:
        raise ServiceError(
            f"{flow.name} is the flow of the incident type(s) {', '.join(sorted(types))}; "
            "give them another flow first."
        )
    runs = LearningRun.objects.filter(flow=flow).count()
    if runs:
        raise ServiceError(
            f"{flow.name} cannot be deleted: {runs} incident(s) ran it, and an incident keeps the flow it "
            "started with. Rename it, or take it off the incident types instead."
        )
    flow.delete()


# --- A flow's statuses -----------------------------------------------------------------


def _check_learning_status(flow: LearningFlow, status: IncidentStatus) -> None:
    if status.org_id != flow.org_id or status.category != StatusCategory.LEARNING:
        raise ServiceError("Choose one of the organization's learning statuses.", field="status")


@transaction.atomic
def flow_status_add(*, flow: LearningFlow, status: IncidentStatus) -> LearningFlowStatus:
    """Add a learning status at the end of ``flow`` (a status can be in several flows)."""
    _check_learning_status(flow, status)
    steps = LearningFlowStatus.objects.select_for_update().filter(flow=flow)
    if any(step.status_id == status.pk for step in steps):
        raise ServiceError(f"“{status.name}” is already in the {flow.name} flow.", field="status")
    rank = max((step.rank for step in steps), default=-1) + 1
    return LearningFlowStatus.objects.create(flow=flow, status=status, rank=rank)


@transaction.atomic
def flow_status_create(*, flow: LearningFlow, name: str, description: str = "") -> IncidentStatus:
    """A new learning status, added at the end of ``flow``."""
    status = status_create(org=flow.org, name=name, description=description, category=StatusCategory.LEARNING)
    flow_status_add(flow=flow, status=status)
    return status


@transaction.atomic
def flow_status_remove(*, flow: LearningFlow, status: IncidentStatus) -> None:
    """Take a status out of ``flow``, with the flow's templates for it. Incidents
    in it stay and carry on to the flow's next step; their tasks are kept."""
    deleted, _ = LearningFlowStatus.objects.filter(flow=flow, status=status).delete()
    if not deleted:
        raise ServiceError(f"“{status.name}” is not in the {flow.name} flow.", field="status")
    TaskTemplate.objects.filter(flow=flow, status=status).delete()


@transaction.atomic
def flow_status_move(*, flow: LearningFlow, status: IncidentStatus, direction: str) -> None:
    step = LearningFlowStatus.objects.filter(flow=flow, status=status).first()
    if step is None:
        raise ServiceError(f"“{status.name}” is not in the {flow.name} flow.", field="status")
    move_among(step, LearningFlowStatus.objects.filter(flow=flow), direction)
