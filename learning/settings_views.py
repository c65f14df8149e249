"""Settings → Learning flow: the org's learning flows (each an ordered choice
of learning statuses with their task templates) and the lifecycle rules of
every incident type, on one admin page.

GET shows the page. POST carries an ``action`` and, for an existing object,
its public ``id``, resolved through the org by a selector (another org's id
is a 404). The rules live in ``learning.services.configuration`` and
``incidentio.incidents.services.configuration``: when one refuses, the page comes back
with status 400 and the message next to the form that was sent, and nothing
has changed. Success redirects back to the page (PRG).

Editing templates never touches incidents already in the flow: their tasks
are a snapshot taken when they entered the status, and an incident keeps the
flow it entered (``LearningRun``). Actions on a flow's statuses and templates
name the flow (``flow``); without one they act on the default flow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import cached_property

from incidentio.common.errors import ServiceError, add_service_error
from incidentio.incidents import selectors as core_selectors
from incidentio.incidents.models import IncidentStatus, RoleKind, StatusCategory
from incidentio.incidents.services import configuration as core_configuration
from learning import selectors
from learning.forms import (
    FlowForm,
    LearningStatusForm,
    RulesForm,
    TaskTemplateForm,
    public_id_choices,
)
from learning.models import DueFrom, LearningFlow, LifecycleRules, TaskTemplate, UnmatchedPolicy
from learning.services import configuration
from orgs.views.base import AdminView


@dataclass
class TaskRow:
    template: TaskTemplate
    form: TaskTemplateForm


@dataclass
class StatusCard:
    status: IncidentStatus
    form: LearningStatusForm
    new_task_form: TaskTemplateForm
    tasks: list[TaskRow] = field(default_factory=list)


@dataclass
class FlowCard:
    flow: LearningFlow
    form: FlowForm
    new_status_form: LearningStatusForm
    addable: list[IncidentStatus]  # learning statuses not in this flow yet
    cards: list[StatusCard] = field(default_factory=list)


@dataclass
class TypeRow:
    incident_type: object
    rules: LifecycleRules | None
    form: RulesForm
    default_flow: LearningFlow

    @property
    def summary(self) -> str:
        """"Security flow, always enters", "Default flow, Major and above, otherwise ask"."""
        rules = self.rules
        flow = (rules.learning_flow if rules else None) or self.default_flow
        if rules is None:
            return f"{flow.name} flow, ask whoever closes it"
        if rules.auto_enter_all:
            return f"{flow.name} flow, always enters"
        otherwise = "ask" if rules.otherwise == UnmatchedPolicy.ASK else "never"
        if rules.auto_enter_min_severity is not None:
            return f"{flow.name} flow, {rules.auto_enter_min_severity.name} and above, otherwise {otherwise}"
        return f"{flow.name} flow, " + ("ask whoever closes it" if otherwise == "ask" else "never enters")


class LearningSettingsView(AdminView):
    template_name = "learning/settings.html"

    # --- HTTP ---------------------------------------------------------------------

    def get(self, request, org_slug):
        return self.render()

    def post(self, request, org_slug):
        handlers = {
            "rules": self.rules_update,
            "flow_create": self.flow_create,
            "flow_update": self.flow_update,
            "flow_default": self.flow_default,
            "flow_delete": self.flow_delete,
            "step_add": self.step_add,
            "step_remove": self.step_remove,
            "status_create": self.status_create,
            "status_update": self.status_update,
            "status_move": self.status_move,
            "status_delete": self.status_delete,
            "task_create": self.task_create,
            "task_update": self.task_update,
            "task_move": self.task_move,
            "task_delete": self.task_delete,
        }
        handler = handlers.get(request.POST.get("action"))
        if handler is None:
            return self.render(error="Unknown action.", status=400)
        return handler(request.POST)

    def done(self, message: str, anchor: str = ""):
        messages.success(self.request, message)
        url = reverse("settings_learning", kwargs={"org_slug": self.org.slug})
        return redirect(f"{url}#{anchor}" if anchor else url)

    # --- Resolving ids through the org ----------------------------------------------

    def learning_status(self, public_id) -> IncidentStatus:
        status = core_selectors.status_get(org=self.org, public_id=public_id)
        if status.category != StatusCategory.LEARNING:
            raise Http404("No such learning status.")  # this page edits the learning flow only
        return status

    def task_template(self, public_id) -> TaskTemplate:
        return selectors.template_get(org=self.org, public_id=public_id)

    def flow(self, public_id) -> LearningFlow:
        """The flow an action names; none named: the default flow."""
        if public_id is None:
            return selectors.default_flow(org=self.org)
        return selectors.flow_get(org=self.org, public_id=public_id)

    def flow_or_none(self, public_id):
        return selectors.flow_get(org=self.org, public_id=public_id) if public_id else None

    def incident_type(self, public_id):
        if public_id is None:
            return None  # the default type
        return selectors.incident_type_get(org=self.org, public_id=public_id)

    def role_or_none(self, public_id):
        return core_selectors.role_get(org=self.org, public_id=public_id) if public_id else None

    def severity_or_none(self, public_id):
        return core_selectors.severity_get(org=self.org, public_id=public_id) if public_id else None

    @cached_property
    def roles(self) -> list:
        """The org's roles, read once per request and shared by every task form."""
        return list(core_selectors.role_list(org=self.org))

    @cached_property
    def role_choices(self) -> list[tuple[str, str]]:
        return public_id_choices(self.roles)

    @cached_property
    def lead_role_id(self) -> str:
        """A new task goes to the Incident Lead unless changed, as in the API's document."""
        return next((str(role.public_id) for role in self.roles if role.kind == RoleKind.LEAD), "")

    # --- Forms ----------------------------------------------------------------------

    @cached_property
    def severity_choices(self) -> list[tuple[str, str]]:
        return public_id_choices(core_selectors.severity_list(org=self.org))

    @cached_property
    def flow_choices(self) -> list[tuple[str, str]]:
        return public_id_choices(LearningFlow.objects.filter(org=self.org))

    def rules_form(self, incident_type, rules: LifecycleRules | None, data=None) -> RulesForm:
        severity = rules.auto_enter_min_severity if rules else None
        flow = rules.learning_flow if rules else None
        initial = {
            "learning_flow": flow.public_id if flow else "",
            "auto_enter_all": rules.auto_enter_all if rules else False,
            "auto_enter_min_severity": severity.public_id if severity else "",
            "otherwise": rules.otherwise if rules else "ask",
        }
        return RulesForm(data, initial=initial, severity_choices=self.severity_choices,
                         flow_choices=self.flow_choices, auto_id=f"%s-{incident_type.public_id}")

    def flow_form(self, flow: LearningFlow, data=None) -> FlowForm:
        return FlowForm(data, initial={"name": flow.name, "description": flow.description},
                        auto_id=f"%s-{flow.public_id}")

    def status_form(self, status: IncidentStatus, data=None) -> LearningStatusForm:
        initial = {"name": status.name, "description": status.description}
        return LearningStatusForm(data, initial=initial, auto_id=f"%s-{status.public_id}")

    def task_form(self, template: TaskTemplate, data=None) -> TaskTemplateForm:
        initial = {
            "title": template.title,
            "kind": template.kind,
            "required": template.required,
            "instructions": template.instructions,
            "assignee_role": template.assignee_role.public_id if template.assignee_role else "",
            "target_role": template.target_role.public_id if template.target_role else "",
            "due_days": template.due_days,
            "due_from": template.due_from,
        }
        return TaskTemplateForm(
            data,
            initial=initial,
            role_choices=self.role_choices,
            auto_id=f"%s-{template.public_id}",
        )

    def new_task_form(self, flow: LearningFlow, status: IncidentStatus, data=None) -> TaskTemplateForm:
        return TaskTemplateForm(
            data, initial={"assignee_role": self.lead_role_id}, role_choices=self.role_choices,
            auto_id=f"%s-new-{flow.public_id}-{status.public_id}",
        )

    # --- Lifecycle rules --------------------------------------------------------------

    def rules_update(self, data):
        incident_type = self.incident_type(data.get("incident_type"))
        if incident_type is None:
            incident_type = selectors.default_incident_type(org=self.org)
        rules = LifecycleRules.objects.filter(incident_type=incident_type).first()
        form = self.rules_form(incident_type, rules, data)
        if form.is_valid():
            cleaned = form.cleaned_data
            try:
                configuration.rules_update(
                    org=self.org,
                    incident_type=incident_type,
                    learning_flow=self.flow_or_none(cleaned["learning_flow"]),
                    auto_enter_all=cleaned["auto_enter_all"],
                    auto_enter_min_severity=self.severity_or_none(cleaned["auto_enter_min_severity"]),
                    otherwise=cleaned["otherwise"],
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Lifecycle rules of {incident_type.name} saved.", f"type-{incident_type.public_id}")
        return self.render(bound={("rules", incident_type.pk): form}, status=400)

    # --- Flows --------------------------------------------------------------------------

    def flow_create(self, data):
        form = FlowForm(data, auto_id="%s-new-flow")
        if form.is_valid():
            try:
                flow = configuration.flow_create(
                    org=self.org, name=form.cleaned_data["name"], description=form.cleaned_data["description"]
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Flow “{flow.name}” added: add its statuses.", f"flow-{flow.public_id}")
        return self.render(bound={"new_flow": form}, status=400)

    def flow_update(self, data):
        flow = self.flow(data.get("id"))
        form = self.flow_form(flow, data)
        if form.is_valid():
            try:
                configuration.flow_update(
                    flow=flow, name=form.cleaned_data["name"], description=form.cleaned_data["description"]
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Flow “{flow.name}” saved.", f"flow-{flow.public_id}")
        return self.render(bound={("flow", flow.pk): form}, status=400)

    def flow_default(self, data):
        flow = self.flow(data.get("id"))
        configuration.flow_make_default(flow=flow)
        return self.done(f"“{flow.name}” is now the default flow.", f"flow-{flow.public_id}")

    def flow_delete(self, data):
        flow = self.flow(data.get("id"))
        try:
            configuration.flow_delete(flow=flow)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"Flow “{flow.name}” deleted.")

    def step_add(self, data):
        flow = self.flow(data.get("flow"))
        status = self.learning_status(data.get("status"))
        try:
            configuration.flow_status_add(flow=flow, status=status)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"“{status.name}” added to the {flow.name} flow.", f"flow-{flow.public_id}")

    def step_remove(self, data):
        flow = self.flow(data.get("flow"))
        status = self.learning_status(data.get("id"))
        try:
            configuration.flow_status_remove(flow=flow, status=status)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"“{status.name}” taken out of the {flow.name} flow.", f"flow-{flow.public_id}")

    # --- Learning statuses --------------------------------------------------------------

    def status_create(self, data):
        """A new learning status, at the end of the flow it was added to."""
        flow = self.flow(data.get("flow"))
        form = LearningStatusForm(data, auto_id=f"%s-new-status-{flow.public_id}")
        if form.is_valid():
            try:
                status = configuration.flow_status_create(
                    flow=flow, name=form.cleaned_data["name"], description=form.cleaned_data["description"]
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(
                    f"Learning status “{status.name}” added to the {flow.name} flow.",
                    f"status-{flow.public_id}-{status.public_id}",
                )
        return self.render(bound={("new_status", flow.pk): form}, status=400)

    def status_update(self, data):
        status = self.learning_status(data.get("id"))
        form = self.status_form(status, data)
        if form.is_valid():
            try:
                core_configuration.status_update(
                    status=status,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(
                    f"Learning status “{status.name}” saved.", f"status-{status.public_id}"
                )
        return self.render(bound={("status", status.pk): form}, status=400)

    def status_move(self, data):
        """Reorder a status within one flow (other flows keep their order)."""
        status = self.learning_status(data.get("id"))
        flow = self.flow(data.get("flow"))
        direction = data.get("direction", "")
        try:
            configuration.flow_status_move(flow=flow, status=status, direction=direction)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"Moved “{status.name}” {direction}.", f"status-{flow.public_id}-{status.public_id}")

    def status_delete(self, data):
        status = self.learning_status(data.get("id"))
        replacement = self.learning_status(data["replacement"]) if data.get("replacement") else None
        try:
            moved = core_configuration.status_delete(status=status, replacement=replacement)
        except ServiceError as exc:
            if exc.field == "replacement":
                return self.render(replacing=status, replace_error=str(exc), status=400)
            return self.render(error=str(exc), status=400)
        message = f"Learning status “{status.name}” deleted."
        if replacement is not None:
            message += (
                f" {moved} incident(s) and the tasks it labelled moved to {replacement.name}."
            )
        return self.done(message)

    # --- Task templates ---------------------------------------------------------------

    def _template_arguments(self, form: TaskTemplateForm) -> dict:
        data = form.cleaned_data
        return {
            "title": data["title"],
            "kind": data["kind"],
            "instructions": data["instructions"],
            "required": data["required"],
            "assignee_role": self.role_or_none(data["assignee_role"]),
            "target_role": self.role_or_none(data["target_role"]),
            "due_days": data["due_days"],
            "due_from": data["due_from"] or DueFrom.TASK_CREATED,
        }

    def task_create(self, data):
        status = self.learning_status(data.get("status"))
        flow = self.flow(data.get("flow"))
        form = self.new_task_form(flow, status, data)
        if form.is_valid():
            try:
                template = configuration.template_create(
                    org=self.org, flow=flow, status=status, **self._template_arguments(form)
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(
                    f"Task “{template.title}” added to {status.name}.", f"task-{template.public_id}"
                )
        return self.render(bound={("new_task", flow.pk, status.pk): form}, status=400)

    def task_update(self, data):
        template = self.task_template(data.get("id"))
        form = self.task_form(template, data)
        if form.is_valid():
            try:
                configuration.template_update(template=template, **self._template_arguments(form))
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Task “{template.title}” saved.", f"task-{template.public_id}")
        return self.render(bound={("task", template.pk): form}, status=400)

    def task_move(self, data):
        template = self.task_template(data.get("id"))
        direction = data.get("direction", "")
        try:
            configuration.template_move(template=template, direction=direction)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"Moved “{template.title}” {direction}.", f"task-{template.public_id}")

    def task_delete(self, data):
        template = self.task_template(data.get("id"))
        configuration.template_delete(template=template)
        return self.done(f"Task “{template.title}” deleted.", f"flow-{template.flow.public_id}")

    # --- Page -------------------------------------------------------------------------

    def render(
        self,
        *,
        status: int = 200,
        error: str = "",
        bound: dict | None = None,
        replacing: IncidentStatus | None = None,
        replace_error: str = "",
    ):
        """The page; ``bound`` maps a form's key to the submitted form to show instead."""
        bound = bound or {}
        learning = selectors.learning_status_list(org=self.org)
        flows = []
        for config in selectors.flows_configuration(org=self.org):
            flow = config.flow
            in_flow = {step.status.pk for step in config.steps}
            card = FlowCard(
                flow=flow,
                form=bound.get(("flow", flow.pk)) or self.flow_form(flow),
                new_status_form=bound.get(("new_status", flow.pk))
                or LearningStatusForm(auto_id=f"%s-new-status-{flow.public_id}"),
                addable=[s for s in learning if s.pk not in in_flow],
            )
            for step in config.steps:
                status_card = StatusCard(
                    status=step.status,
                    form=bound.get(("status", step.status.pk)) or self.status_form(step.status),
                    new_task_form=bound.get(("new_task", flow.pk, step.status.pk))
                    or self.new_task_form(flow, step.status),
                )
                for template in step.templates:
                    form = bound.get(("task", template.pk)) or self.task_form(template)
                    status_card.tasks.append(TaskRow(template=template, form=form))
                card.cards.append(status_card)
            flows.append(card)
        default = next(card.flow for card in flows if card.flow.is_default)
        types = [
            TypeRow(incident_type=t, rules=rules, default_flow=default,
                    form=bound.get(("rules", t.pk)) or self.rules_form(t, rules))
            for t, rules in selectors.type_rules(org=self.org)
        ]
        context = self.get_context_data(
            nav="settings",
            settings_tab="learning",
            error=error,
            flows=flows,
            types=types,
            new_flow_form=bound.get("new_flow") or FlowForm(auto_id="%s-new-flow"),
            replacing=replacing,
            replace_error=replace_error,
            replacements=[s for s in learning if replacing and s.pk != replacing.pk],
        )
        return render(self.request, self.template_name, context, status=status)
