"""The learning flows as one document: read it, or replace it whole (config as code).

Version 2 (``GET``/``PUT /api/v2/learning_flow``, ``docs/api.md``)::

    {"version": 2,
     "learning_flows": [{"id", "name", "description", "is_default",
                         "learning_statuses": [{"id", "name", "description",
                                                "task_templates": [{"id", "title", "instructions", "kind",
                                                                    "required", "default_assignee_role_id",
                                                                    "target_role_id", "due_days", "due_from"}]}]}],
     "incident_types": [{"id", "learning_flow_id", "auto_enter_all", "auto_enter_min_severity_id", "otherwise"}]}

Flows, statuses and templates are matched by ``id``: an item without one is
created, list order is the order. A flow left out is deleted (refused while an
incident ran it or a type names it); a learning status can be in several
flows, with one name; one in no flow is left alone (statuses are deleted in
Settings → Statuses). Incident types are made elsewhere: the document sets the
rules of the types it lists and leaves the others as they are.

Version 1, the single-flow document of before (``{"learning_statuses",
"lifecycle_rules"}``, no ``version``), still reads (``?version=1``) and
writes: it is the default flow and the default type's rules, and a status it
leaves out is taken out of the default flow, and deleted when no other flow
has it (refused while an incident or task uses it).

``learning_flow_replace`` validates *all* of a document before it writes
anything and reports every problem at once with its path. Writing back what
``learning_flow_document`` returned changes no row. Incidents keep the flow
they entered and the tasks they were given.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count

from incidentio.common.errors import ServiceError
from incidentio.incidents.models import Incident, IncidentStatus, IncidentType, StatusCategory
from incidentio.incidents.services.configuration import status_create, status_delete, status_update
from learning.models import (
    LearningFlow,
    LearningFlowStatus,
    LearningTask,
    LifecycleRules,
    TaskTemplate,
    UnmatchedPolicy,
)
from learning.selectors import flows_configuration
from learning.services.config_validate import (
    VERSION,
    DocumentError,
    FlowPlan,
    LearningFlowDocumentInvalid,
    Plan,
    TemplatePlan,
    Validator,
    at,
    uuid_key,
)
from learning.services.configuration import (
    flow_delete,
    flow_make_default,
    rules_update,
    template_create,
    template_update,
)
from orgs.models import Organization

__all__ = ["DocumentError", "LearningFlowDocumentInvalid", "learning_flow_document", "learning_flow_replace"]

# --- Reading ----------------------------------------------------------------------------------


def _id(obj) -> str | None:
    return str(obj.public_id) if obj is not None else None


def _template_json(template: TaskTemplate, *, version: int) -> dict:
    data = {
        "id": _id(template),
        "title": template.title,
        "instructions": template.instructions,
        "kind": template.kind,
        "required": template.required,
        "default_assignee_role_id": _id(template.assignee_role),
        "target_role_id": _id(template.target_role),
    }
    if version >= 2:
        data |= {"due_days": template.due_days, "due_from": template.due_from}
    return data


def _statuses_json(steps, *, version: int) -> list[dict]:
    return [
        {
            "id": _id(step.status),
            "name": step.status.name,
            "description": step.status.description,
            "task_templates": [_template_json(t, version=version) for t in step.templates],
        }
        for step in steps
    ]


def _rules_json(rules: LifecycleRules | None) -> dict:
    # A type without a rules row is asked (rules.decide); a read never creates the row.
    return {
        "auto_enter_min_severity_id": _id(rules.auto_enter_min_severity) if rules else None,
        "otherwise": rules.otherwise if rules else UnmatchedPolicy.ASK.value,
    }


def learning_flow_document(*, org: Organization, version: int = VERSION) -> dict:
    """The org's whole learning configuration as a JSON-ready dict, in a fixed number of queries."""
    flows = flows_configuration(org=org)
    types = list(IncidentType.objects.filter(org=org))
    rules = {
        r.incident_type_id: r
        for r in LifecycleRules.objects.filter(incident_type__org=org)
        .select_related("auto_enter_min_severity", "learning_flow")
    }
    if version == 1:
        default = next((f for f in flows if f.flow.is_default), None)
        default_type = next((t for t in types if t.is_default), None)
        return {
            "learning_statuses": _statuses_json(default.steps if default else [], version=1),
            "lifecycle_rules": _rules_json(rules.get(default_type.pk) if default_type else None),
        }
    return {
        "version": VERSION,
        "learning_flows": [
            {
                "id": _id(config.flow),
                "name": config.flow.name,
                "description": config.flow.description,
                "is_default": config.flow.is_default,
                "learning_statuses": _statuses_json(config.steps, version=VERSION),
            }
            for config in flows
        ],
        "incident_types": [
            {
                "id": _id(incident_type),
                "learning_flow_id": _id(rules[incident_type.pk].learning_flow) if incident_type.pk in rules
                else None,
                "auto_enter_all": rules[incident_type.pk].auto_enter_all if incident_type.pk in rules else False,
                **_rules_json(rules.get(incident_type.pk)),
            }
            for incident_type in types
        ],
    }


# --- Version 1 -----------------------------------------------------------------------------------


class _Version1:
    """A version-1 document as the version-2 document it means: the current
    document with the default flow's statuses and the default type's rules
    replaced. Errors are reported at their version-1 paths."""

    def __init__(self, org: Organization, document):
        self.org = org
        self.document = document
        self.errors: list[DocumentError] = []
        self.current = learning_flow_document(org=org)
        self.default_index = next(i for i, f in enumerate(self.current["learning_flows"]) if f["is_default"])
        self.type_index = next(
            (i for i, t in enumerate(self.current["incident_types"])
             if t["id"] == _id(IncidentType.objects.filter(org=org, is_default=True).first())), None,
        )
        self.default_ids = [s["id"] for s in self.current["learning_flows"][self.default_index]["learning_statuses"]]
        self.deleting: list[IncidentStatus] = []

    def prefixes(self) -> list[tuple[str, str]]:
        flow = at(at("learning_flows", self.default_index), "learning_statuses")
        pairs = [(flow, "learning_statuses"), ("learning_flows", "learning_statuses")]
        if self.type_index is not None:
            pairs.append((at("incident_types", self.type_index), "lifecycle_rules"))
        return pairs

    def v1_path(self, path: str | None) -> str | None:
        for v2, v1 in self.prefixes():
            if path is not None and (path == v2 or path.startswith(v2 + ".") or path.startswith(v2 + "[")):
                return v1 + path[len(v2):]
        return path

    def mapped(self) -> dict:
        doc = self.document
        if not isinstance(doc, dict):
            raise LearningFlowDocumentInvalid([DocumentError(None, "Expected a JSON object.", "invalid")])
        for key in doc:
            if key not in ("learning_statuses", "lifecycle_rules"):
                self.errors.append(DocumentError(key, f"Unknown field “{key}”.", "unknown_field"))
        for key in ("learning_statuses", "lifecycle_rules"):
            if key not in doc:
                self.errors.append(DocumentError(key, "This field is required.", "required"))
        mapped = self.current
        statuses = doc.get("learning_statuses")
        if isinstance(statuses, list):
            mapped["learning_flows"][self.default_index]["learning_statuses"] = statuses
            self.deleting = self.removed(statuses)
        elif "learning_statuses" in doc:
            self.errors.append(DocumentError("learning_statuses", "Expected a list of learning statuses.", "invalid"))
        rules = doc.get("lifecycle_rules")
        if isinstance(rules, dict) and self.type_index is not None:
            entry = mapped["incident_types"][self.type_index]
            for key in ("auto_enter_min_severity_id", "otherwise"):
                entry.pop(key)
            entry.update(rules)
        elif "lifecycle_rules" in doc and not isinstance(rules, dict):
            self.late_errors = [DocumentError("lifecycle_rules", "Expected a JSON object.", "invalid")]
        return mapped

    def removed(self, statuses: list) -> list[IncidentStatus]:
        """The default flow's statuses the document leaves out and no other flow has: deleted after
        writing, so refused while an incident or task uses them."""
        listed = {uuid_key(item.get("id")) for item in statuses if isinstance(item, dict)}
        left_out = [key for key in self.default_ids if key not in listed]
        elsewhere = set(
            LearningFlowStatus.objects.filter(flow__org=self.org, flow__is_default=False)
            .values_list("status__public_id", flat=True)
        )
        removed = list(IncidentStatus.objects.filter(
            org=self.org, category=StatusCategory.LEARNING, public_id__in=left_out,
        ).exclude(public_id__in=elsewhere))
        return removed

    def in_use(self) -> list[DocumentError]:
        ids = [s.pk for s in self.deleting]
        incidents = dict(Incident.objects.filter(status_id__in=ids).values_list("status_id").annotate(n=Count("pk")))
        tasks = dict(LearningTask.objects.filter(status_id__in=ids).values_list("status_id").annotate(n=Count("pk")))
        return [
            DocumentError(
                "learning_statuses",
                f"The learning status “{status.name}” (id {status.public_id}) is used by "
                f"{incidents.get(status.pk, 0)} incident(s) and {tasks.get(status.pk, 0)} learning task(s), "
                "so it cannot be removed; keep it in the document (renaming it is fine).",
                "in_use",
            )
            for status in self.deleting
            if incidents.get(status.pk) or tasks.get(status.pk)
        ]

    def plan(self) -> Plan:
        self.late_errors: list[DocumentError] = []
        mapped = self.mapped()
        v2_errors: list[DocumentError] = []
        plan = None
        try:
            plan = Validator(self.org, mapped, deleting=frozenset(s.pk for s in self.deleting)).validate()
        except LearningFlowDocumentInvalid as exc:
            v2_errors = [DocumentError(self.v1_path(e.field), e.message, e.code) for e in exc.errors]
        statuses = [e for e in v2_errors if not (e.field or "").startswith("lifecycle_rules")]
        rules = [e for e in v2_errors if (e.field or "").startswith("lifecycle_rules")]
        errors = self.errors + statuses + self.in_use() + rules + self.late_errors
        if errors:
            raise LearningFlowDocumentInvalid(errors)
        return plan


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
    """Replace the org's learning flows, their statuses and templates, and the
    rules of the incident types the document lists (version 2), or the default
    flow and the default type's rules (version 1: no ``version`` field).

    Raises ``LearningFlowDocumentInvalid`` listing every problem, having
    written nothing. Incidents keep the flow and the tasks they were given.
    """
    # Two replaces of one org's flows at once would each validate against the
    # rows the other is rewriting; the org row lock makes them take turns.
    Organization.objects.select_for_update().filter(pk=org.pk).exists()
    if isinstance(document, dict) and "version" not in document:
        version1 = _Version1(org, document)
        plan, deleting = version1.plan(), version1.deleting
    else:
        plan, deleting = Validator(org, document).validate(), []
    _write(org, plan, deleting)
    for status in deleting:
        try:
            status_delete(status=status)
        except ServiceError as exc:  # it came into use after validation
            raise LearningFlowDocumentInvalid([DocumentError("learning_statuses", str(exc), "in_use")]) from None


def _park(model, objects) -> None:
    """Names are unique per org: park every name that moves first, so swapping
    two names, or a new item taking a removed one's name, never collides halfway."""
    for obj in objects:
        model.objects.filter(pk=obj.pk).update(name=f"~{obj.public_id}")


def _write(org: Organization, plan: Plan, deleting: list[IncidentStatus]) -> None:
    renamed = [p.existing for p in plan.statuses if p.existing is not None and p.existing.name != p.name]
    _park(IncidentStatus, renamed + deleting)
    for item in plan.statuses:
        status = item.existing
        if status is None:
            status = status_create(org=org, name=item.name, description=item.description,
                                   category=StatusCategory.LEARNING)
        elif status in renamed or status.description != item.description:
            status = status_update(status=status, name=item.name, description=item.description)
        item.written = status

    renamed_flows = [p.existing for p in plan.flows if p.existing is not None and p.existing.name != p.name]
    _park(LearningFlow, renamed_flows + plan.removed_flows)
    for item in plan.flows:
        flow = item.existing
        if flow is None:
            flow = LearningFlow.objects.create(org=org, name=item.name, description=item.description)
        elif flow in renamed_flows or flow.description != item.description:
            flow.name, flow.description = item.name, item.description
            flow.save(update_fields=["name", "description"])
        item.written = flow
    default = next(p.written for p in plan.flows if p.is_default)
    if not default.is_default:
        flow_make_default(flow=default)

    kept_templates = []
    for item in plan.flows:
        kept_templates += _write_steps(org, item)
    # Tasks made from a deleted template keep their copy (LearningTask.template is SET_NULL).
    dropped = set(TaskTemplate.objects.filter(org=org).values_list("pk", flat=True)) - set(kept_templates)
    if dropped:
        TaskTemplate.objects.filter(pk__in=dropped).delete()

    rules = {r.incident_type_id: r for r in LifecycleRules.objects.filter(incident_type__org=org)}
    for item in plan.types:
        flow = item.flow.written if item.flow is not None else None
        current = rules.get(item.incident_type.pk)
        wanted = (flow.pk if flow else None, item.auto_enter_all, item.severity.pk if item.severity else None,
                  item.otherwise)
        if current is None or wanted != (current.learning_flow_id, current.auto_enter_all,
                                         current.auto_enter_min_severity_id, current.otherwise):
            rules_update(org=org, incident_type=item.incident_type, learning_flow=flow,
                         auto_enter_all=item.auto_enter_all, auto_enter_min_severity=item.severity,
                         otherwise=item.otherwise)
    for flow in plan.removed_flows:
        try:
            flow_delete(flow=flow)
        except ServiceError as exc:  # an incident entered it after validation
            raise LearningFlowDocumentInvalid([DocumentError("learning_flows", str(exc), "in_use")]) from None


def _write_steps(org: Organization, item: FlowPlan) -> list[int]:
    """The flow's statuses in the document's order, and their templates; returns the templates' ids."""
    flow = item.written
    steps = {s.status_id: s for s in LearningFlowStatus.objects.filter(flow=flow)}
    wanted = [p.status.written for p in item.steps]
    stale = [step.pk for status_id, step in steps.items() if status_id not in {s.pk for s in wanted}]
    if stale:
        LearningFlowStatus.objects.filter(pk__in=stale).delete()
    ranks = _ranks([steps[s.pk].rank if s.pk in steps else None for s in wanted])
    for status, rank in zip(wanted, ranks, strict=True):
        step = steps.get(status.pk)
        if step is None:
            LearningFlowStatus.objects.create(flow=flow, status=status, rank=rank)
        elif step.rank != rank:
            LearningFlowStatus.objects.filter(pk=step.pk).update(rank=rank)
    kept = []
    for step in item.steps:
        templates = [_write_template(org, flow, step.status.written, t) for t in step.templates]
        kept += [t.pk for t in templates]
        ranks = _ranks([None if t.existing is None else t.existing.rank for t in step.templates])
        for template, rank in zip(templates, ranks, strict=True):
            if template.rank != rank:
                TaskTemplate.objects.filter(pk=template.pk).update(rank=rank)
    return kept


def _write_template(org: Organization, flow: LearningFlow, status: IncidentStatus, item: TemplatePlan) -> TaskTemplate:
    fields = {
        "title": item.title, "kind": item.kind, "instructions": item.instructions, "required": item.required,
        "assignee_role": item.assignee_role, "target_role": item.target_role, "due_days": item.due_days,
        "due_from": item.due_from,
    }
    template = item.existing
    if template is None:
        return template_create(org=org, flow=flow, status=status, **fields)
    unchanged = template.flow_id == flow.pk and template.status_id == status.pk and all(
        getattr(template, f"{name}_id" if name.endswith("_role") else name)
        == (value.pk if name.endswith("_role") and value is not None else value)
        for name, value in fields.items()
    )
    if unchanged:
        return template
    template.flow, template.status = flow, status
    return template_update(template=template, **fields)
