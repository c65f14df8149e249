"""The learning flow as one document: read it, or replace it whole (config as code).

The document (``GET``/``PUT /api/v2/learning_flow``, ``docs/api.md``)::

    {"learning_statuses": [{"id", "name", "description",
                            "task_templates": [{"id", "title", "instructions", "kind", "required",
                                                "default_assignee_role_id", "target_role_id"}]}],
     "lifecycle_rules": {"auto_enter_min_severity_id", "otherwise"}}

``learning_flow_replace`` validates *all* of a document before it writes
anything, and reports every problem at once with its path
(``learning_statuses[1].task_templates[0].target_role_id``). Statuses and
templates are matched by ``id``; an item without one is created, an existing
one left out is deleted, and list order is the order. Writing back what
``learning_flow_document`` returned changes no row. In-flight incidents keep
their tasks (tasks are snapshots), so a status that labels any incident or
task cannot be removed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count

from incidentio.common import limits
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import Incident, IncidentRole, IncidentStatus, RoleKind, Severity, StatusCategory
from incidentio.incidents.services.configuration import status_create, status_delete, status_update
from learning.models import LearningTask, LifecycleRules, TaskKind, TaskTemplate, UnmatchedPolicy
from learning.selectors import flow_configuration
from learning.services.configuration import rules_update, template_create, template_update
from orgs.models import Organization

# --- Reading ----------------------------------------------------------------------------------


def _id(obj) -> str | None:
    return str(obj.public_id) if obj is not None else None


def learning_flow_document(*, org: Organization) -> dict:
    """The org's whole learning-flow configuration as a JSON-ready dict (three queries)."""
    statuses = []
    for status, templates in flow_configuration(org=org):
        statuses.append({
            "id": _id(status),
            "name": status.name,
            "description": status.description,
            "task_templates": [
                {
                    "id": _id(template),
                    "title": template.title,
                    "instructions": template.instructions,
                    "kind": template.kind,
                    "required": template.required,
                    "default_assignee_role_id": _id(template.assignee_role),
                    "target_role_id": _id(template.target_role),
                }
                for template in templates
            ],
        })
    # A read never creates the rules row; an org without one is asked (rules.decide).
    rules = (
        LifecycleRules.objects.filter(incident_type__org=org, incident_type__is_default=True)
        .select_related("auto_enter_min_severity").first()
    )
    return {
        "learning_statuses": statuses,
        "lifecycle_rules": {
            "auto_enter_min_severity_id": _id(rules.auto_enter_min_severity) if rules else None,
            "otherwise": rules.otherwise if rules else UnmatchedPolicy.ASK.value,
        },
    }


# --- Validating -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentError:
    field: str | None  # a path into the document, e.g. "learning_statuses[0].name"
    message: str
    code: str = "invalid"


class LearningFlowDocumentInvalid(ServiceError):
    """The document was refused; nothing was written. ``errors`` lists every problem."""

    def __init__(self, errors: list[DocumentError]):
        message = errors[0].message if len(errors) == 1 else f"The document has {len(errors)} problems."
        super().__init__(message, field=errors[0].field if len(errors) == 1 else None)
        self.errors = errors


@dataclass
class _TemplatePlan:
    existing: TaskTemplate | None
    title: str
    instructions: str
    kind: str
    required: bool
    assignee_role: IncidentRole | None
    target_role: IncidentRole | None


@dataclass
class _StatusPlan:
    existing: IncidentStatus | None
    name: str
    description: str
    templates: list[_TemplatePlan] = field(default_factory=list)


@dataclass
class _Plan:
    statuses: list[_StatusPlan]
    removed: list[IncidentStatus]
    severity: Severity | None
    otherwise: str


_MISSING = object()


def _at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _uuid_key(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None


class _Validator:
    """Walks a document once, collecting every error, and builds the plan."""

    def __init__(self, org: Organization, document):
        self.org = org
        self.document = document
        self.errors: list[DocumentError] = []
        statuses = list(IncidentStatus.objects.filter(org=org))
        self.learning = {str(s.public_id): s for s in statuses if s.category == StatusCategory.LEARNING}
        self.other_status_names = {s.name.casefold(): s for s in statuses if s.category != StatusCategory.LEARNING}
        self.other_statuses = {str(s.public_id): s for s in statuses if s.category != StatusCategory.LEARNING}
        self.templates = {str(t.public_id): t for t in TaskTemplate.objects.filter(org=org)}
        roles = list(IncidentRole.objects.filter(org=org))
        self.roles = {str(r.public_id): r for r in roles}
        self.lead = next((r for r in roles if r.kind == RoleKind.LEAD), None)
        self.severities = {str(s.public_id): s for s in Severity.objects.filter(org=org)}
        self.seen_status_ids: set[str] = set()
        self.seen_template_ids: set[str] = set()
        self.seen_names: set[str] = set()

    def error(self, path: str | None, message: str, code: str = "invalid") -> None:
        self.errors.append(DocumentError(path, message, code))

    # Types --------------------------------------------------------------------------------

    def obj(self, value, path: str, *, required: tuple, optional: tuple = ()) -> dict | None:
        if not isinstance(value, dict):
            self.error(path or None, "Expected a JSON object.", "invalid")
            return None
        for key in value:
            if key not in required and key not in optional:
                self.error(_at(path, str(key)), f"Unknown field “{key}”.", "unknown_field")
        for key in required:
            if key not in value:
                self.error(_at(path, key), "This field is required.", "required")
        return value

    def text(self, data: dict, key: str, path: str, *, max_length: int, blank: bool, default=_MISSING) -> str | None:
        value = data.get(key, default)
        where = _at(path, key)
        if value is _MISSING:
            return None  # reported as required by obj()
        if value is None:
            self.error(where, "This field may not be null.", "null")
            return None
        if not isinstance(value, str):
            self.error(where, "Expected a string.", "invalid")
            return None
        # The database refuses NUL (Postgres) and lone surrogates (any UTF-8 store).
        if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
            self.error(where, "Text may not contain NUL or unpaired surrogate characters.", "invalid")
            return None
        value = value.strip()
        if not value and not blank:
            self.error(where, "This field may not be blank.", "blank")
            return None
        if len(value) > max_length:
            self.error(where, f"Keep this under {max_length} characters.", "max_length")
            return None
        return value

    def boolean(self, data: dict, key: str, path: str, *, default: bool) -> bool | None:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.error(_at(path, key), "Expected true or false.", "invalid")
            return None
        return value

    def reference(self, data: dict, key: str, path: str, table: dict, what: str, default=None):
        """``(ok, object)`` for an optional id field naming one of ``table``."""
        value = data.get(key, default)
        if value is None or isinstance(value, (IncidentRole, Severity)):
            return True, value
        where = _at(path, key)
        if not isinstance(value, str):
            self.error(where, "Expected an id (a string) or null.", "invalid")
            return False, None
        found = table.get(_uuid_key(value) or "")
        if found is None:
            self.error(where, f"There is no {what} with this id in this organization.", "not_found")
            return False, None
        return True, found

    # The document -------------------------------------------------------------------------

    def validate(self) -> _Plan:
        doc = self.obj(self.document, "", required=("learning_statuses", "lifecycle_rules"))
        statuses: list[_StatusPlan] = []
        removed: list[IncidentStatus] = []
        severity, otherwise = None, UnmatchedPolicy.ASK
        if doc is not None:
            items = doc.get("learning_statuses", _MISSING)
            if items is not _MISSING and not isinstance(items, list):
                self.error("learning_statuses", "Expected a list of learning statuses.", "invalid")
            elif isinstance(items, list):
                for index, item in enumerate(items):
                    plan = self.status(item, _at("learning_statuses", index))
                    if plan is not None:
                        statuses.append(plan)
                removed = self.removed_statuses()
            if "lifecycle_rules" in doc:
                severity, otherwise = self.rules(doc["lifecycle_rules"], "lifecycle_rules")
        if self.errors:
            raise LearningFlowDocumentInvalid(self.errors)
        return _Plan(statuses=statuses, removed=removed, severity=severity, otherwise=otherwise)

    def status(self, item, path: str) -> _StatusPlan | None:
        data = self.obj(item, path, required=("name", "task_templates"), optional=("id", "description"))
        if data is None:
            return None
        existing = self.status_id(data.get("id"), _at(path, "id"))
        name = self.text(data, "name", path, max_length=limits.CONFIG_NAME, blank=False)
        if name is not None:
            folded = name.casefold()
            if folded in self.seen_names:
                self.error(_at(path, "name"), f"Another learning status in this document is called “{name}”.",
                           "duplicate")
            elif folded in self.other_status_names:
                other = self.other_status_names[folded]
                self.error(_at(path, "name"), f"“{other.name}” is already the name of a {other.category} status.",
                           "duplicate")
            self.seen_names.add(folded)
        description = self.text(data, "description", path, max_length=limits.CONFIG_TEXT, blank=True, default="")
        templates = []
        raw_templates = data.get("task_templates", _MISSING)
        if raw_templates is not _MISSING and not isinstance(raw_templates, list):
            self.error(_at(path, "task_templates"), "Expected a list of task templates.", "invalid")
        elif isinstance(raw_templates, list):
            for index, raw in enumerate(raw_templates):
                templates.append(self.template(raw, _at(_at(path, "task_templates"), index)))
        if name is None or description is None or existing is False or None in templates:
            return None
        return _StatusPlan(existing=existing, name=name, description=description, templates=templates)

    def status_id(self, value, where: str):
        """The existing status an ``id`` names; None for a new one; False when refused."""
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(where, "Expected an id (a string) or null.", "invalid")
            return False
        key = _uuid_key(value)
        if key in self.other_statuses:
            other = self.other_statuses[key]
            self.error(where, f"“{other.name}” is a {other.category} status, not a learning status.", "invalid")
            return False
        if key not in self.learning:
            self.error(where, "There is no learning status with this id in this organization.", "not_found")
            return False
        if key in self.seen_status_ids:
            self.error(where, "This learning status appears twice in the document.", "duplicate")
            return False
        self.seen_status_ids.add(key)
        return self.learning[key]

    def template(self, item, path: str) -> _TemplatePlan | None:
        data = self.obj(
            item, path, required=("title", "kind"),
            optional=("id", "instructions", "required", "default_assignee_role_id", "target_role_id"),
        )
        if data is None:
            return None
        existing = self.template_id(data.get("id"), _at(path, "id"))
        title = self.text(data, "title", path, max_length=limits.TASK_TITLE, blank=False)
        instructions = self.text(data, "instructions", path, max_length=limits.CONFIG_TEXT, blank=True, default="")
        kind = data.get("kind")
        if "kind" in data and kind not in TaskKind.values:
            self.error(_at(path, "kind"), f"Choose one of: {', '.join(TaskKind.values)}.", "invalid_choice")
            kind = None
        required = self.boolean(data, "required", path, default=True)
        # Omitted, the default assignee is the Incident Lead, as on the settings page; null is nobody.
        assignee_ok, assignee_role = self.reference(
            data, "default_assignee_role_id", path, self.roles, "incident role", default=self.lead
        )
        target_ok, target_role = self.reference(data, "target_role_id", path, self.roles, "incident role")
        if kind == TaskKind.ASSIGN_ROLE and target_ok and target_role is None:
            self.error(_at(path, "target_role_id"), "A task of kind assign_role needs the role to assign.",
                       "required")
            target_ok = False
        elif kind is not None and kind != TaskKind.ASSIGN_ROLE and target_role is not None:
            self.error(_at(path, "target_role_id"), "Only tasks of kind assign_role have a target role; use null.",
                       "invalid")
            target_ok = False
        if None in (title, instructions, kind, required) or existing is False or not (assignee_ok and target_ok):
            return None
        return _TemplatePlan(existing=existing, title=title, instructions=instructions, kind=kind,
                             required=required, assignee_role=assignee_role, target_role=target_role)

    def template_id(self, value, where: str):
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(where, "Expected an id (a string) or null.", "invalid")
            return False
        key = _uuid_key(value)
        if key not in self.templates:
            self.error(where, "There is no task template with this id in this organization.", "not_found")
            return False
        if key in self.seen_template_ids:
            self.error(where, "This task template appears twice in the document.", "duplicate")
            return False
        self.seen_template_ids.add(key)
        return self.templates[key]

    def removed_statuses(self) -> list[IncidentStatus]:
        """Learning statuses the document leaves out; refused while anything uses them."""
        removed = [s for key, s in self.learning.items() if key not in self.seen_status_ids]
        if not removed:
            return []
        ids = [s.pk for s in removed]
        incidents = dict(
            Incident.objects.filter(status_id__in=ids).values_list("status_id").annotate(n=Count("pk"))
        )
        tasks = dict(
            LearningTask.objects.filter(status_id__in=ids).values_list("status_id").annotate(n=Count("pk"))
        )
        for status in removed:
            if incidents.get(status.pk) or tasks.get(status.pk):
                self.error(
                    "learning_statuses",
                    f"The learning status “{status.name}” (id {status.public_id}) is used by "
                    f"{incidents.get(status.pk, 0)} incident(s) and {tasks.get(status.pk, 0)} learning task(s), "
                    "so it cannot be removed; keep it in the document (renaming it is fine).",
                    "in_use",
                )
        return removed

    def rules(self, item, path: str) -> tuple[Severity | None, str]:
        data = self.obj(item, path, required=("otherwise",), optional=("auto_enter_min_severity_id",))
        if data is None:
            return None, UnmatchedPolicy.ASK
        _ok, severity = self.reference(data, "auto_enter_min_severity_id", path, self.severities, "severity")
        otherwise = data.get("otherwise")
        if "otherwise" in data and otherwise not in UnmatchedPolicy.values:
            self.error(_at(path, "otherwise"), f"Choose one of: {', '.join(UnmatchedPolicy.values)}.",
                       "invalid_choice")
        return severity, otherwise


# --- Writing -------------------------------------------------------------------------------------


def _ranks(current: list[int | None]) -> list[int]:
    """Ranks giving the list order, keeping the current ones when they already do.

    ``current`` holds each item's rank today (None for a new item). Keeping
    ranks that already order the list is what makes writing back an unchanged
    document a no-op; anything else is renumbered 0..n-1, as moving does.
    """
    kept, last = [], -1
    for rank in current:
        rank = last + 1 if rank is None else rank
        if rank <= last:
            return list(range(len(current)))
        kept.append(rank)
        last = rank
    return kept


@transaction.atomic
def learning_flow_replace(*, org: Organization, document) -> None:
    """Replace the org's learning statuses, task templates and lifecycle rules.

    Raises ``LearningFlowDocumentInvalid`` listing every problem, having
    written nothing. In-flight incidents keep the tasks they were given.
    """
    # Two replaces of one org's flow at once would each validate against the
    # rows the other is rewriting; the org row lock makes them take turns.
    Organization.objects.select_for_update().filter(pk=org.pk).exists()
    plan = _Validator(org, document).validate()

    # Status names are unique per org. Park every name that moves (and those of
    # removed statuses) first, so swapping two names, or a new status taking a
    # removed one's name, never collides halfway through.
    renamed = [p.existing for p in plan.statuses if p.existing is not None and p.existing.name != p.name]
    for status in renamed + plan.removed:
        IncidentStatus.objects.filter(pk=status.pk).update(name=f"~{status.public_id}")

    statuses = []
    for item in plan.statuses:
        status = item.existing
        if status is None:
            status = status_create(org=org, name=item.name, description=item.description,
                                   category=StatusCategory.LEARNING)
        elif status in renamed or status.description != item.description:
            status = status_update(status=status, name=item.name, description=item.description)
        statuses.append(status)
    ranks = _ranks([None if p.existing is None else p.existing.rank for p in plan.statuses])
    for status, rank in zip(statuses, ranks, strict=True):
        if status.rank != rank:
            IncidentStatus.objects.filter(pk=status.pk).update(rank=rank)

    kept_templates = []
    for status, item in zip(statuses, plan.statuses, strict=True):
        templates = [_write_template(org, status, t) for t in item.templates]
        kept_templates += [t.pk for t in templates]
        ranks = _ranks([None if t.existing is None else t.existing.rank for t in item.templates])
        for template, rank in zip(templates, ranks, strict=True):
            if template.rank != rank:
                TaskTemplate.objects.filter(pk=template.pk).update(rank=rank)
    # Tasks made from a deleted template keep their copy (LearningTask.template is SET_NULL).
    TaskTemplate.objects.filter(org=org).exclude(pk__in=kept_templates).delete()

    for status in plan.removed:
        try:
            status_delete(status=status)
        except ServiceError as exc:  # it came into use after validation
            raise LearningFlowDocumentInvalid([DocumentError("learning_statuses", str(exc), "in_use")]) from None

    rules = LifecycleRules.objects.filter(incident_type__org=org, incident_type__is_default=True).first()
    if rules is None or rules.auto_enter_min_severity_id != (plan.severity.pk if plan.severity else None) \
            or rules.otherwise != plan.otherwise:
        rules_update(org=org, auto_enter_min_severity=plan.severity, otherwise=plan.otherwise)


def _write_template(org: Organization, status: IncidentStatus, item: _TemplatePlan) -> TaskTemplate:
    fields = {
        "title": item.title, "kind": item.kind, "instructions": item.instructions, "required": item.required,
        "assignee_role": item.assignee_role, "target_role": item.target_role,
    }
    template = item.existing
    if template is None:
        return template_create(org=org, status=status, **fields)
    unchanged = template.status_id == status.pk and all(
        getattr(template, f"{name}_id" if name.endswith("_role") else name)
        == (value.pk if name.endswith("_role") and value is not None else value)
        for name, value in fields.items()
    )
    if unchanged:
        return template
    template.status = status
    return template_update(template=template, **fields)
