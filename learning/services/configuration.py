"""Admins editing the learning flow: task templates per learning status, and the
lifecycle rules. In-flight incidents keep the tasks they were given."""

from __future__ import annotations

from django.db import transaction

from incidentio.common import limits
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import IncidentRole, IncidentStatus, IncidentType, Severity, StatusCategory
from incidentio.incidents.services.configuration import move_among
from learning.models import LearningFlow, LifecycleRules, TaskKind, TaskTemplate, UnmatchedPolicy


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


@transaction.atomic
def template_create(
    *, org, status: IncidentStatus, title: str, kind: str = TaskKind.CUSTOM, instructions: str = "",
    required: bool = True, assignee_role: IncidentRole | None = None, target_role: IncidentRole | None = None,
    flow: LearningFlow | None = None,
) -> TaskTemplate:
    """A template of ``status`` in ``flow`` (default: the org's default flow)."""
    fields = _clean_template(org, status=status, title=title, kind=kind, assignee_role=assignee_role,
                             target_role=target_role)
    flow = flow or LearningFlow.objects.get(org=org, is_default=True)
    if flow.org_id != org.pk:
        raise ServiceError("Choose one of the organization's learning flows.", field="flow")
    siblings = TaskTemplate.objects.filter(flow=flow, status=status)
    instructions = _clean_instructions(instructions)
    rank = (max(siblings.values_list("rank", flat=True), default=-1)) + 1
    return TaskTemplate.objects.create(
        org=org, flow=flow, instructions=instructions, required=required, rank=rank, **fields
    )


@transaction.atomic
def template_update(
    *, template: TaskTemplate, title: str, kind: str, instructions: str = "", required: bool = True,
    assignee_role: IncidentRole | None = None, target_role: IncidentRole | None = None,
) -> TaskTemplate:
    fields = _clean_template(template.org, status=template.status, title=title, kind=kind,
                             assignee_role=assignee_role, target_role=target_role)
    instructions = _clean_instructions(instructions)
    for name, value in fields.items():
        setattr(template, name, value)
    template.instructions = instructions
    template.required = required
    template.save()
    return template


def template_move(*, template: TaskTemplate, direction: str) -> None:
    move_among(
        template, TaskTemplate.objects.filter(flow_id=template.flow_id, status_id=template.status_id), direction
    )


def template_delete(*, template: TaskTemplate) -> None:
    template.delete()


@transaction.atomic
def rules_update(*, org, auto_enter_min_severity: Severity | None, otherwise: str) -> LifecycleRules:
    if auto_enter_min_severity is not None and auto_enter_min_severity.org_id != org.pk:
        raise ServiceError("Choose one of the organization's severities.", field="auto_enter_min_severity")
    if otherwise not in UnmatchedPolicy.values:
        raise ServiceError("Choose “ask” or “never” for the other incidents.", field="otherwise")
    # The default type's rules, until rules are edited per type.
    default_type = IncidentType.objects.get(org=org, is_default=True)
    rules, _ = LifecycleRules.objects.select_for_update().get_or_create(incident_type=default_type,
                                                                        defaults={"org": org})
    rules.auto_enter_min_severity = auto_enter_min_severity
    rules.otherwise = otherwise
    rules.save()
    return rules
