"""Validating a learning-flow document (``config_document``): one walk over all
of it, collecting every problem with its path, and building the plan that
``config_document`` writes. Nothing here writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from django.db.models import Model

from incidentio.common import limits
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import IncidentRole, IncidentStatus, IncidentType, RoleKind, Severity, StatusCategory
from learning.models import DueFrom, LearningFlow, LearningRun, LifecycleRules, TaskKind, TaskTemplate, UnmatchedPolicy
from learning.services.configuration import MAX_DUE_DAYS
from orgs.models import Organization

VERSION = 2


@dataclass(frozen=True)
class DocumentError:
    field: str | None  # a path into the document, e.g. "learning_flows[0].learning_statuses[1].name"
    message: str
    code: str = "invalid"


class LearningFlowDocumentInvalid(ServiceError):
    """The document was refused; nothing was written. ``errors`` lists every problem."""

    def __init__(self, errors: list[DocumentError]):
        message = errors[0].message if len(errors) == 1 else f"The document has {len(errors)} problems."
        super().__init__(message, field=errors[0].field if len(errors) == 1 else None)
        self.errors = errors


@dataclass
class TemplatePlan:
    existing: TaskTemplate | None
    title: str
    instructions: str
    kind: str
    required: bool
    assignee_role: IncidentRole | None
    target_role: IncidentRole | None
    due_days: int | None
    due_from: str


@dataclass
class StatusPlan:
    """One learning status, however many flows list it."""

    existing: IncidentStatus | None
    name: str
    description: str
    written: IncidentStatus | None = None  # set by the writer


@dataclass
class StepPlan:
    status: StatusPlan
    templates: list[TemplatePlan]


@dataclass
class FlowPlan:
    existing: LearningFlow | None
    name: str
    description: str
    is_default: bool
    steps: list[StepPlan] = field(default_factory=list)
    written: LearningFlow | None = None


@dataclass
class TypePlan:
    incident_type: IncidentType
    flow: FlowPlan | None  # None: the org's default flow
    auto_enter_all: bool
    severity: Severity | None
    otherwise: str


@dataclass
class Plan:
    flows: list[FlowPlan]
    statuses: list[StatusPlan]
    removed_flows: list[LearningFlow]
    types: list[TypePlan]


_MISSING = object()


def at(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def uuid_key(value) -> str | None:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        return None


class Validator:
    """Walks a version-2 document once, collecting every error, and builds the plan.

    ``deleting``: learning statuses the caller deletes after writing (the
    version-1 document's removed statuses); their names are free to take.
    """

    def __init__(self, org: Organization, document, *, deleting: frozenset[int] = frozenset()):
        self.org = org
        self.document = document
        self.deleting = deleting
        self.errors: list[DocumentError] = []
        statuses = list(IncidentStatus.objects.filter(org=org))
        self.learning = {str(s.public_id): s for s in statuses if s.category == StatusCategory.LEARNING}
        self.other_status_names = {s.name.casefold(): s for s in statuses if s.category != StatusCategory.LEARNING}
        self.other_statuses = {str(s.public_id): s for s in statuses if s.category != StatusCategory.LEARNING}
        self.templates = {str(t.public_id): t for t in TaskTemplate.objects.filter(org=org)}
        self.flows = {str(f.public_id): f for f in LearningFlow.objects.filter(org=org)}
        self.types = {str(t.public_id): t for t in IncidentType.objects.filter(org=org)}
        roles = list(IncidentRole.objects.filter(org=org))
        self.roles = {str(r.public_id): r for r in roles}
        self.lead = next((r for r in roles if r.kind == RoleKind.LEAD), None)
        self.severities = {str(s.public_id): s for s in Severity.objects.filter(org=org)}
        self.status_plans: dict[str, StatusPlan] = {}  # status id, or "new:" + folded name
        self.status_names: dict[str, str] = {}  # folded name → status key
        self.seen_template_ids: set[str] = set()
        self.seen_flow_ids: set[str] = set()
        self.flow_plans: dict[str, FlowPlan] = {}  # flow id → plan, for the flows that are valid
        self.flow_names: set[str] = set()
        self.seen_type_ids: set[str] = set()

    def error(self, path: str | None, message: str, code: str = "invalid") -> None:
        self.errors.append(DocumentError(path, message, code))

    # Types --------------------------------------------------------------------------------

    def obj(self, value, path: str, *, required: tuple, optional: tuple = ()) -> dict | None:
        if not isinstance(value, dict):
            self.error(path or None, "Expected a JSON object.", "invalid")
            return None
        for key in value:
            if key not in required and key not in optional:
                self.error(at(path, str(key)), f"Unknown field “{key}”.", "unknown_field")
        for key in required:
            if key not in value:
                self.error(at(path, key), "This field is required.", "required")
        return value

    def items(self, data: dict, key: str, path: str, what: str) -> list:
        value = data.get(key, _MISSING)
        if value is not _MISSING and not isinstance(value, list):
            self.error(at(path, key), f"Expected a list of {what}.", "invalid")
        return value if isinstance(value, list) else []

    def text(self, data: dict, key: str, path: str, *, max_length: int, blank: bool, default=_MISSING) -> str | None:
        value = data.get(key, default)
        where = at(path, key)
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
            self.error(at(path, key), "Expected true or false.", "invalid")
            return None
        return value

    def reference(self, data: dict, key: str, path: str, table: dict, what: str, default=None):
        """``(ok, object)`` for an optional id field naming one of ``table``."""
        value = data.get(key, default)
        if value is None or isinstance(value, Model):
            return True, value  # null, or the default object
        where = at(path, key)
        if not isinstance(value, str):
            self.error(where, "Expected an id (a string) or null.", "invalid")
            return False, None
        found = table.get(uuid_key(value) or "")
        if found is None:
            self.error(where, f"There is no {what} with this id in this organization.", "not_found")
            return False, None
        return True, found

    # The document -------------------------------------------------------------------------

    def validate(self) -> Plan:
        doc = self.obj(self.document, "", required=("version", "learning_flows", "incident_types"))
        flows: list[FlowPlan] = []
        types: list[TypePlan] = []
        if doc is not None:
            if "version" in doc and doc["version"] != VERSION:
                self.error("version", f"This is version {VERSION} of the document; omit the field for version 1.",
                           "invalid_choice")
            for index, item in enumerate(self.items(doc, "learning_flows", "", "learning flows")):
                plan = self.flow(item, at("learning_flows", index))
                if plan is not None:
                    flows.append(plan)
            if isinstance(doc.get("learning_flows"), list) and sum(f.is_default for f in flows) != 1 \
                    and len(flows) == len(doc["learning_flows"]):
                self.error("learning_flows", "Exactly one flow is the default (is_default: true).", "invalid")
            self.free_names()
            for index, item in enumerate(self.items(doc, "incident_types", "", "incident types")):
                plan = self.incident_type(item, at("incident_types", index))
                if plan is not None:
                    types.append(plan)
        removed = self.removed_flows(types) if doc is not None else []
        if self.errors:
            raise LearningFlowDocumentInvalid(self.errors)
        return Plan(flows=flows, statuses=list(self.status_plans.values()), removed_flows=removed, types=types)

    # Flows ---------------------------------------------------------------------------------

    def flow(self, item, path: str) -> FlowPlan | None:
        data = self.obj(item, path, required=("name", "learning_statuses"),
                        optional=("id", "description", "is_default"))
        if data is None:
            return None
        existing = self.flow_id(data.get("id"), at(path, "id"))
        name = self.text(data, "name", path, max_length=limits.CONFIG_NAME, blank=False)
        if name is not None:
            if name.casefold() in self.flow_names:
                self.error(at(path, "name"), f"Another flow in this document is called “{name}”.", "duplicate")
            self.flow_names.add(name.casefold())
        description = self.text(data, "description", path, max_length=limits.CONFIG_TEXT, blank=True, default="")
        is_default = self.boolean(data, "is_default", path, default=False)
        steps, in_flow = [], set()
        for index, raw in enumerate(self.items(data, "learning_statuses", path, "learning statuses")):
            steps.append(self.step(raw, at(at(path, "learning_statuses"), index), in_flow))
        if None in (name, description, is_default) or existing is False or None in steps:
            return None
        plan = FlowPlan(existing=existing, name=name, description=description, is_default=is_default, steps=steps)
        if existing is not None:
            self.flow_plans[str(existing.public_id)] = plan
        return plan

    def flow_id(self, value, where: str):
        """The existing flow an ``id`` names; None for a new one; False when refused."""
        if value is None:
            return None
        key = uuid_key(value) if isinstance(value, str) else None
        if not isinstance(value, str):
            self.error(where, "Expected an id (a string) or null.", "invalid")
        elif key not in self.flows:
            self.error(where, "There is no learning flow with this id in this organization.", "not_found")
        elif key in self.seen_flow_ids:
            self.error(where, "This learning flow appears twice in the document.", "duplicate")
        else:
            self.seen_flow_ids.add(key)
            return self.flows[key]
        return False

    def removed_flows(self, types: list[TypePlan]) -> list[LearningFlow]:
        """Flows the document leaves out: refused while an incident ran one or a type still names it."""
        removed = [f for key, f in self.flows.items() if key not in self.seen_flow_ids]
        if not removed:
            return []
        listed = {t.incident_type.pk: t for t in types}
        runs = set(LearningRun.objects.filter(flow__in=removed).values_list("flow_id", flat=True).distinct())
        named = {}
        for rules in LifecycleRules.objects.filter(learning_flow__in=removed).select_related("incident_type"):
            if rules.incident_type_id not in listed:  # the document does not change its flow
                named.setdefault(rules.learning_flow_id, []).append(rules.incident_type.name)
        for flow in removed:
            if flow.pk in runs:
                self.error("learning_flows", f"The flow “{flow.name}” (id {flow.public_id}) was run by incidents, "
                           "and an incident keeps the flow it started with, so it cannot be removed; keep it in "
                           "the document (renaming it is fine).", "in_use")
            elif flow.pk in named:
                self.error("learning_flows", f"The flow “{flow.name}” (id {flow.public_id}) is the flow of the "
                           f"incident type(s) {', '.join(sorted(named[flow.pk]))}; give them another flow first.",
                           "in_use")
        return removed

    # Statuses -----------------------------------------------------------------------------

    def step(self, item, path: str, in_flow: set[str]) -> StepPlan | None:
        data = self.obj(item, path, required=("name", "task_templates"), optional=("id", "description"))
        if data is None:
            return None
        existing = self.status_id(data.get("id"), at(path, "id"), in_flow)
        name = self.text(data, "name", path, max_length=limits.CONFIG_NAME, blank=False)
        description = self.text(data, "description", path, max_length=limits.CONFIG_TEXT, blank=True, default="")
        status = None
        if name is not None and existing is not False:
            status = self.status_plan(existing, name, description, path, in_flow)
        templates = []
        for index, raw in enumerate(self.items(data, "task_templates", path, "task templates")):
            templates.append(self.template(raw, at(at(path, "task_templates"), index)))
        if status is None or description is None or None in templates:
            return None
        return StepPlan(status=status, templates=templates)

    def status_id(self, value, where: str, in_flow: set[str]):
        """The existing status an ``id`` names; None for a new one; False when refused."""
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(where, "Expected an id (a string) or null.", "invalid")
            return False
        key = uuid_key(value)
        if key in self.other_statuses:
            other = self.other_statuses[key]
            self.error(where, f"“{other.name}” is a {other.category} status, not a learning status.", "invalid")
            return False
        if key not in self.learning:
            self.error(where, "There is no learning status with this id in this organization.", "not_found")
            return False
        if key in in_flow:
            self.error(where, "This learning status appears twice in this flow.", "duplicate")
            return False
        in_flow.add(key)
        return self.learning[key]

    def status_plan(self, existing, name: str, description: str | None, path: str, in_flow: set[str]):
        """The one plan of a status, however many flows list it; a status has one name and description."""
        folded = name.casefold()
        key = str(existing.public_id) if existing is not None else f"new:{folded}"
        if existing is None:
            if key in in_flow:
                self.error(at(path, "name"), f"Another learning status in this flow is called “{name}”.",
                           "duplicate")
                return None
            in_flow.add(key)
        owner = self.status_names.get(folded)
        if owner is not None and owner != key:
            self.error(at(path, "name"), f"Another learning status in this document is called “{name}”.",
                       "duplicate")
            return None
        if folded in self.other_status_names:
            other = self.other_status_names[folded]
            self.error(at(path, "name"), f"“{other.name}” is already the name of a {other.category} status.",
                       "duplicate")
            return None
        self.status_names[folded] = key
        plan = self.status_plans.get(key)
        if plan is None:
            plan = self.status_plans[key] = StatusPlan(existing=existing, name=name, description=description or "")
        elif (plan.name, plan.description) != (name, description):
            self.error(path, "This learning status is listed with another name or description in another flow; "
                       "a status has one name and description in every flow.", "invalid")
            return None
        return plan

    def free_names(self) -> None:
        """A learning status the document does not list keeps its name: no other may take it."""
        listed = {str(p.existing.public_id) for p in self.status_plans.values() if p.existing is not None}
        taken = {
            s.name.casefold(): s for key, s in self.learning.items() if key not in listed and s.pk not in self.deleting
        }
        for plan in self.status_plans.values():
            other = taken.get(plan.name.casefold())
            if other is not None:
                self.error("learning_flows", f"“{plan.name}” is already the name of the learning status with id "
                           f"{other.public_id}; use its id to put it in a flow.", "duplicate")

    # Templates ----------------------------------------------------------------------------

    def template(self, item, path: str) -> TemplatePlan | None:
        data = self.obj(
            item, path, required=("title", "kind"),
            optional=("id", "instructions", "required", "default_assignee_role_id", "target_role_id",
                      "due_days", "due_from"),
        )
        if data is None:
            return None
        existing = self.template_id(data.get("id"), at(path, "id"))
        title = self.text(data, "title", path, max_length=limits.TASK_TITLE, blank=False)
        instructions = self.text(data, "instructions", path, max_length=limits.CONFIG_TEXT, blank=True, default="")
        kind = data.get("kind")
        if "kind" in data and kind not in TaskKind.values:
            self.error(at(path, "kind"), f"Choose one of: {', '.join(TaskKind.values)}.", "invalid_choice")
            kind = None
        required = self.boolean(data, "required", path, default=True)
        # Omitted, the default assignee is the Incident Lead, as on the settings page; null is nobody.
        assignee_ok, assignee_role = self.reference(
            data, "default_assignee_role_id", path, self.roles, "incident role", default=self.lead
        )
        target_ok, target_role = self.reference(data, "target_role_id", path, self.roles, "incident role")
        if kind == TaskKind.ASSIGN_ROLE and target_ok and target_role is None:
            self.error(at(path, "target_role_id"), "A task of kind assign_role needs the role to assign.",
                       "required")
            target_ok = False
        elif kind is not None and kind != TaskKind.ASSIGN_ROLE and target_role is not None:
            self.error(at(path, "target_role_id"), "Only tasks of kind assign_role have a target role; use null.",
                       "invalid")
            target_ok = False
        due_ok, due_days, due_from = self.due_rule(data, path, existing)
        if None in (title, instructions, kind, required) or existing is False \
                or not (assignee_ok and target_ok and due_ok):
            return None
        return TemplatePlan(existing=existing, title=title, instructions=instructions, kind=kind,
                            required=required, assignee_role=assignee_role, target_role=target_role,
                            due_days=due_days, due_from=due_from)

    def due_rule(self, data: dict, path: str, existing) -> tuple[bool, int | None, str]:
        """Omitted, an existing template keeps its due rule (a version-1 document has none)."""
        keep = existing if isinstance(existing, TaskTemplate) else None
        due_days = data.get("due_days", keep.due_days if keep else None)
        due_from = data.get("due_from", keep.due_from if keep else DueFrom.TASK_CREATED.value)
        ok = True
        if due_days is not None and (isinstance(due_days, bool) or not isinstance(due_days, int)
                                     or not 0 <= due_days <= MAX_DUE_DAYS):
            self.error(at(path, "due_days"), f"Expected a whole number of business days, 0 to {MAX_DUE_DAYS}, "
                       "or null for no due date.", "invalid")
            ok = False
        if due_from not in DueFrom.values:
            self.error(at(path, "due_from"), f"Choose one of: {', '.join(DueFrom.values)}.", "invalid_choice")
            ok = False
        return ok, due_days, due_from

    def template_id(self, value, where: str):
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(where, "Expected an id (a string) or null.", "invalid")
            return False
        key = uuid_key(value)
        if key not in self.templates:
            self.error(where, "There is no task template with this id in this organization.", "not_found")
            return False
        if key in self.seen_template_ids:
            self.error(where, "This task template appears twice in the document.", "duplicate")
            return False
        self.seen_template_ids.add(key)
        return self.templates[key]

    # Incident types -------------------------------------------------------------------------

    def incident_type(self, item, path: str) -> TypePlan | None:
        data = self.obj(item, path, required=("id", "otherwise"),
                        optional=("learning_flow_id", "auto_enter_all", "auto_enter_min_severity_id"))
        if data is None:
            return None
        incident_type = None
        if "id" in data:
            ok, incident_type = self.reference(data, "id", path, self.types, "incident type")
            if ok and incident_type is None:
                self.error(at(path, "id"), "Name an incident type; types are created in Settings → Incident "
                           "types.", "null")
            elif incident_type is not None and str(incident_type.public_id) in self.seen_type_ids:
                self.error(at(path, "id"), "This incident type appears twice in the document.", "duplicate")
                incident_type = None
            elif incident_type is not None:
                self.seen_type_ids.add(str(incident_type.public_id))
        flow_ok, flow = self.type_flow(data, path)
        auto_enter_all = self.boolean(data, "auto_enter_all", path, default=False)
        severity_ok, severity = self.reference(data, "auto_enter_min_severity_id", path, self.severities,
                                               "severity")
        otherwise = data.get("otherwise")
        if "otherwise" in data and otherwise not in UnmatchedPolicy.values:
            self.error(at(path, "otherwise"), f"Choose one of: {', '.join(UnmatchedPolicy.values)}.",
                       "invalid_choice")
            otherwise = None
        if incident_type is None or not (flow_ok and severity_ok) or None in (auto_enter_all, otherwise):
            return None
        return TypePlan(incident_type=incident_type, flow=flow, auto_enter_all=auto_enter_all, severity=severity,
                        otherwise=otherwise)

    def type_flow(self, data: dict, path: str) -> tuple[bool, FlowPlan | None]:
        ok, flow = self.reference(data, "learning_flow_id", path, self.flows, "learning flow")
        if flow is None:
            return ok, None
        key = str(flow.public_id)
        if key not in self.seen_flow_ids:
            self.error(at(path, "learning_flow_id"), "This flow is not in the document's learning_flows.",
                       "not_found")
            return False, None
        plan = self.flow_plans.get(key)  # None: the flow itself has errors, reported there
        return plan is not None, plan
