"""Settings → Learning flow: the org's learning statuses, their task templates
and the lifecycle rules, on one admin page.

GET shows the page. POST carries an ``action`` and, for an existing object,
its public ``id``, resolved through the org by a selector (another org's id
is a 404). The rules live in ``learning.services.configuration`` and
``incidentio.incidents.services.configuration``: when one refuses, the page comes back
with status 400 and the message next to the form that was sent, and nothing
has changed. Success redirects back to the page (PRG).

Editing templates never touches incidents already in the flow: their tasks
are a snapshot taken when they entered the status.
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
from incidentio.incidents.models import IncidentStatus, StatusCategory
from incidentio.incidents.services import configuration as core_configuration
from learning import selectors
from learning.forms import (
    LearningStatusForm,
    RulesForm,
    TaskTemplateForm,
    public_id_choices,
)
from learning.models import TaskTemplate
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


class LearningSettingsView(AdminView):
    template_name = "learning/settings.html"

    # --- HTTP ---------------------------------------------------------------------

    def get(self, request, org_slug):
        return self.render()

    def post(self, request, org_slug):
        handlers = {
            "rules": self.rules_update,
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

    def role_or_none(self, public_id):
        return core_selectors.role_get(org=self.org, public_id=public_id) if public_id else None

    def severity_or_none(self, public_id):
        return core_selectors.severity_get(org=self.org, public_id=public_id) if public_id else None

    @cached_property
    def role_choices(self) -> list[tuple[str, str]]:
        """The org's roles, read once per request and shared by every task form."""
        return public_id_choices(core_selectors.role_list(org=self.org))

    # --- Forms ----------------------------------------------------------------------

    def rules_form(self, data=None) -> RulesForm:
        rules = selectors.rules_get(org=self.org)
        severity = rules.auto_enter_min_severity
        initial = {
            "auto_enter_min_severity": severity.public_id if severity else "",
            "otherwise": rules.otherwise,
        }
        choices = public_id_choices(core_selectors.severity_list(org=self.org))
        return RulesForm(data, initial=initial, severity_choices=choices)

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
        }
        return TaskTemplateForm(
            data,
            initial=initial,
            role_choices=self.role_choices,
            auto_id=f"%s-{template.public_id}",
        )

    def new_task_form(self, status: IncidentStatus, data=None) -> TaskTemplateForm:
        return TaskTemplateForm(
            data, role_choices=self.role_choices, auto_id=f"%s-new-{status.public_id}"
        )

    # --- Lifecycle rules --------------------------------------------------------------

    def rules_update(self, data):
        form = self.rules_form(data)
        if form.is_valid():
            severity = self.severity_or_none(form.cleaned_data["auto_enter_min_severity"])
            try:
                configuration.rules_update(
                    org=self.org,
                    auto_enter_min_severity=severity,
                    otherwise=form.cleaned_data["otherwise"],
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done("Lifecycle rules saved.", "rules")
        return self.render(bound={"rules": form}, status=400)

    # --- Learning statuses --------------------------------------------------------------

    def status_create(self, data):
        form = LearningStatusForm(data, auto_id="%s-new-status")
        if form.is_valid():
            try:
                status = core_configuration.status_create(
                    org=self.org,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    category=StatusCategory.LEARNING,
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(
                    f"Learning status “{status.name}” added.", f"status-{status.public_id}"
                )
        return self.render(bound={"new_status": form}, status=400)

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
        status = self.learning_status(data.get("id"))
        direction = data.get("direction", "")
        try:
            core_configuration.status_move(status=status, direction=direction)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"Moved “{status.name}” {direction}.", f"status-{status.public_id}")

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
        }

    def task_create(self, data):
        status = self.learning_status(data.get("status"))
        form = self.new_task_form(status, data)
        if form.is_valid():
            try:
                template = configuration.template_create(
                    org=self.org, status=status, **self._template_arguments(form)
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(
                    f"Task “{template.title}” added to {status.name}.", f"task-{template.public_id}"
                )
        return self.render(bound={("new_task", status.pk): form}, status=400)

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
        return self.done(f"Task “{template.title}” deleted.", f"status-{template.status.public_id}")

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
        cards = []
        flow = selectors.flow_configuration(org=self.org)
        for learning_status, templates in flow:
            card = StatusCard(
                status=learning_status,
                form=bound.get(("status", learning_status.pk)) or self.status_form(learning_status),
                new_task_form=bound.get(("new_task", learning_status.pk))
                or self.new_task_form(learning_status),
            )
            for template in templates:
                form = bound.get(("task", template.pk)) or self.task_form(template)
                card.tasks.append(TaskRow(template=template, form=form))
            cards.append(card)
        context = self.get_context_data(
            nav="settings",
            settings_tab="learning",
            error=error,
            rules_form=bound.get("rules") or self.rules_form(),
            cards=cards,
            new_status_form=bound.get("new_status") or LearningStatusForm(auto_id="%s-new-status"),
            replacing=replacing,
            replace_error=replace_error,
            replacements=[s for s, _ in flow if replacing and s.pk != replacing.pk],
        )
        return render(self.request, self.template_name, context, status=status)
