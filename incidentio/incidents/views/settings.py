"""Admin settings for the incident lifecycle: statuses, severities, incident roles and incident types.

One view per page. GET shows it; POST carries an ``action`` (create, update,
move, delete; make_default for types) and, for an existing object, its public ``id``, resolved through
the org by a selector (another org's id is a 404). The rules live in
``incidentio.incidents.services.configuration``: when one refuses, the page is shown
again with the error and status 400, and nothing has changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render

from incidentio.common.errors import ServiceError, add_service_error
from incidentio.incidents import selectors
from incidentio.incidents.models import (
    CONFIGURABLE_CATEGORIES,
    FINISHED_CATEGORIES,
    Incident,
    RoleKind,
    StatusCategory,
)
from incidentio.incidents.services import configuration
from incidentio.incidents.settings_forms import (
    IncidentTypeForm,
    RoleForm,
    SeverityForm,
    StatusEditForm,
    StatusForm,
)
from orgs.views.base import AdminView

CATEGORY_HELP = {
    StatusCategory.TRIAGE: "Reported incidents wait here until someone accepts or declines them.",
    StatusCategory.LIVE: "Incidents being dealt with move through these, in this order.",
    StatusCategory.LEARNING: (
        "After a live incident closes, its learning flow takes it through some of these; each flow chooses "
        "which, and in what order (Settings → Learning flow). The order here is only the list's."
    ),
}


@dataclass
class Row:
    """One object of a settings list with its edit form."""

    obj: object
    form: forms.Form
    in_use: int = 0  # incidents that have it
    deletable: bool = True



def _incident_counts(org, field: str) -> dict[int, int]:
    """How many of the org's incidents have each status (or severity), in one query."""
    rows = Incident.objects.filter(org=org).values(field).annotate(n=Count("pk")).order_by()
    return {row[field]: row["n"] for row in rows}


def _deleted_message(what: str, obj, replacement, moved: int) -> str:
    message = f"{what} “{obj.name}” deleted."
    if moved:
        message += f" {moved} incident(s) moved to {replacement.name}."
    return message


class LifecycleSettingsView(AdminView):
    """GET shows the page; POST runs the posted ``action`` and redirects back (PRG).

    Subclasses implement ``create_object``, ``update_object``, ``move_object``
    and ``delete_object`` (never ``delete``: that would answer HTTP DELETE),
    and ``page_context`` for what the template lists.
    """

    template_name: str
    settings_tab: str

    def get(self, request, org_slug):
        return self.render()

    def handlers(self) -> dict:
        """The POST actions this page takes, by ``action``."""
        return {
            "create": self.create_object,
            "update": self.update_object,
            "move": self.move_object,
            "delete": self.delete_object,
        }

    def post(self, request, org_slug):
        handler = self.handlers().get(request.POST.get("action"))
        if handler is None:
            return self.render(error="Unknown action.", status=400)
        return handler(request.POST)

    def done(self, message: str):
        messages.success(self.request, message)
        return redirect(self.url_name, org_slug=self.org.slug)

    @property
    def url_name(self) -> str:
        return f"settings_{self.settings_tab}"

    def render(self, *, status: int = 200, error: str = "", **page):
        context = self.get_context_data(
            error=error,
            url_name=self.url_name,
            nav="settings",
            settings_tab=self.settings_tab,
            **self.page_context(**page),
        )
        return render(self.request, self.template_name, context, status=status)


class StatusesView(LifecycleSettingsView):
    template_name = "incidents/settings/statuses.html"
    settings_tab = "statuses"

    def get_object(self, public_id):
        return selectors.status_get(org=self.org, public_id=public_id)

    def edit_form(self, status, data=None) -> StatusEditForm:
        initial = {
            "name": status.name,
            "description": status.description,
            "milestone": status.milestone,
        }
        form = StatusEditForm(data, initial=initial, auto_id=f"%s-{status.public_id}")
        if status.category != StatusCategory.LIVE:
            del form.fields["milestone"]  # only live statuses set a timestamp
        return form

    def create_object(self, data):
        form = StatusForm(data)
        if form.is_valid():
            try:
                status = configuration.status_create(
                    org=self.org,
                    name=form.cleaned_data["name"],
                    category=form.cleaned_data["category"],
                    description=form.cleaned_data["description"],
                    milestone=form.cleaned_data["milestone"],
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Status “{status.name}” added.")
        return self.render(create_form=form, status=400)

    def update_object(self, data):
        status = self.get_object(data.get("id"))
        form = self.edit_form(status, data)
        if form.is_valid():
            try:
                configuration.status_update(
                    status=status,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    milestone=form.cleaned_data.get("milestone"),  # None: leave as is
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Status “{status.name}” saved.")
        return self.render(edited=(status, form), status=400)

    def move_object(self, data):
        status = self.get_object(data.get("id"))
        direction = data.get("direction", "")
        try:
            configuration.status_move(status=status, direction=direction)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"Moved “{status.name}” {direction}.")

    def delete_object(self, data):
        status = self.get_object(data.get("id"))
        replacement = self.get_object(data["replacement"]) if data.get("replacement") else None
        try:
            moved = configuration.status_delete(status=status, replacement=replacement)
        except ServiceError as exc:
            if exc.field == "replacement":
                return self.render(replacing=status, replace_error=str(exc), status=400)
            return self.render(error=str(exc), status=400)
        return self.done(_deleted_message("Status", status, replacement, moved))

    def page_context(self, *, create_form=None, edited=None, replacing=None, replace_error=""):
        statuses = selectors.status_list(org=self.org)
        counts = _incident_counts(self.org, "status")
        rows = [
            Row(
                obj=s,
                form=edited[1] if edited and edited[0].pk == s.pk else self.edit_form(s),
                in_use=counts.get(s.pk, 0),
                deletable=s.is_configurable,
            )
            for s in statuses
        ]
        groups = [
            {
                "category": category.value,
                "label": category.label,
                "help": CATEGORY_HELP.get(category, ""),
                "configurable": category in CONFIGURABLE_CATEGORIES,
                "rows": [row for row in rows if row.obj.category == category],
            }
            for category in StatusCategory  # lifecycle order
        ]
        # Triage, live and learning get a card each; the finished categories,
        # one fixed status apiece, share the last one.
        finished = [group for group in groups if group["category"] in FINISHED_CATEGORIES]
        return {
            "groups": [group for group in groups if group not in finished],
            "finished": finished,
            "create_form": create_form or StatusForm(),
            "replacing": replacing,
            "replace_error": replace_error,
            "replacements": [
                s
                for s in statuses
                if replacing and s.category == replacing.category and s.pk != replacing.pk
            ],
        }


class SeveritiesView(LifecycleSettingsView):
    template_name = "incidents/settings/severities.html"
    settings_tab = "severities"

    def get_object(self, public_id):
        return selectors.severity_get(org=self.org, public_id=public_id)

    def edit_form(self, severity, data=None) -> SeverityForm:
        initial = {"name": severity.name, "description": severity.description}
        return SeverityForm(data, initial=initial, auto_id=f"%s-{severity.public_id}")

    def create_object(self, data):
        form = SeverityForm(data)
        if form.is_valid():
            try:
                severity = configuration.severity_create(
                    org=self.org,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Severity “{severity.name}” added.")
        return self.render(create_form=form, status=400)

    def update_object(self, data):
        severity = self.get_object(data.get("id"))
        form = self.edit_form(severity, data)
        if form.is_valid():
            try:
                configuration.severity_update(
                    severity=severity,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Severity “{severity.name}” saved.")
        return self.render(edited=(severity, form), status=400)

    def move_object(self, data):
        severity = self.get_object(data.get("id"))
        direction = data.get("direction", "")
        try:
            configuration.severity_move(severity=severity, direction=direction)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"Moved “{severity.name}” {direction}.")

    def delete_object(self, data):
        severity = self.get_object(data.get("id"))
        replacement = self.get_object(data["replacement"]) if data.get("replacement") else None
        try:
            moved = configuration.severity_delete(severity=severity, replacement=replacement)
        except ServiceError as exc:
            if exc.field == "replacement":
                return self.render(replacing=severity, replace_error=str(exc), status=400)
            return self.render(error=str(exc), status=400)
        return self.done(_deleted_message("Severity", severity, replacement, moved))

    def page_context(self, *, create_form=None, edited=None, replacing=None, replace_error=""):
        severities = list(selectors.severity_list(org=self.org))
        counts = _incident_counts(self.org, "severity")
        rows = [
            Row(
                obj=s,
                form=edited[1] if edited and edited[0].pk == s.pk else self.edit_form(s),
                in_use=counts.get(s.pk, 0),
            )
            for s in severities
        ]
        return {
            "rows": rows,
            "create_form": create_form or SeverityForm(),
            "replacing": replacing,
            "replace_error": replace_error,
            "replacements": [s for s in severities if replacing and s.pk != replacing.pk],
        }


class RolesView(LifecycleSettingsView):
    template_name = "incidents/settings/roles.html"
    settings_tab = "roles"

    def get_object(self, public_id):
        return selectors.role_get(org=self.org, public_id=public_id)

    def edit_form(self, role, data=None) -> RoleForm:
        initial = {
            "name": role.name,
            "shortform": role.shortform,
            "instructions": role.instructions,
            "required": role.required,
        }
        form = RoleForm(data, initial=initial, auto_id=f"%s-{role.public_id}")
        if role.kind == RoleKind.LEAD:
            form.fields["required"].disabled = True
            form.fields["required"].help_text = "Every incident has a lead."
        return form

    def create_object(self, data):
        form = RoleForm(data)
        if form.is_valid():
            try:
                role = configuration.role_create(org=self.org, **form.cleaned_data)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Role “{role.name}” added.")
        return self.render(create_form=form, status=400)

    def update_object(self, data):
        role = self.get_object(data.get("id"))
        form = self.edit_form(role, data)
        if form.is_valid():
            try:
                configuration.role_update(role=role, **form.cleaned_data)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Role “{role.name}” saved.")
        return self.render(edited=(role, form), status=400)

    def move_object(self, data):
        role = self.get_object(data.get("id"))
        direction = data.get("direction", "")
        try:
            configuration.role_move(role=role, direction=direction)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"Moved “{role.name}” {direction}.")

    def delete_object(self, data):
        role = self.get_object(data.get("id"))
        try:
            configuration.role_delete(role=role)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"Role “{role.name}” deleted.")

    def page_context(self, *, create_form=None, edited=None):
        rows = [
            Row(
                obj=r,
                form=edited[1] if edited and edited[0].pk == r.pk else self.edit_form(r),
                deletable=r.kind == RoleKind.CUSTOM,
            )
            for r in selectors.role_list(org=self.org)
        ]
        return {"rows": rows, "create_form": create_form or RoleForm()}


class IncidentTypesView(LifecycleSettingsView):
    """The org's incident types. The learning flow and rules of each are set
    under Settings → Learning flow (the learning app's page)."""

    template_name = "incidents/settings/incident_types.html"
    settings_tab = "incident_types"

    def get_object(self, public_id):
        return selectors.incident_type_get(org=self.org, public_id=public_id)

    def edit_form(self, incident_type, data=None) -> IncidentTypeForm:
        initial = {"name": incident_type.name, "description": incident_type.description}
        return IncidentTypeForm(data, initial=initial, auto_id=f"%s-{incident_type.public_id}")

    def handlers(self) -> dict:
        return {**super().handlers(), "make_default": self.make_default}

    def create_object(self, data):
        form = IncidentTypeForm(data)
        if form.is_valid():
            try:
                incident_type = configuration.incident_type_create(org=self.org, **form.cleaned_data)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Incident type “{incident_type.name}” added.")
        return self.render(create_form=form, status=400)

    def update_object(self, data):
        incident_type = self.get_object(data.get("id"))
        form = self.edit_form(incident_type, data)
        if form.is_valid():
            try:
                configuration.incident_type_update(incident_type=incident_type, **form.cleaned_data)
            except ServiceError as exc:
                add_service_error(form, exc)
            else:
                return self.done(f"Incident type “{incident_type.name}” saved.")
        return self.render(edited=(incident_type, form), status=400)

    def move_object(self, data):
        incident_type = self.get_object(data.get("id"))
        direction = data.get("direction", "")
        try:
            configuration.incident_type_move(incident_type=incident_type, direction=direction)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"Moved “{incident_type.name}” {direction}.")

    def make_default(self, data):
        incident_type = self.get_object(data.get("id"))
        configuration.incident_type_make_default(incident_type=incident_type)
        return self.done(f"“{incident_type.name}” is now the default type.")

    def delete_object(self, data):
        incident_type = self.get_object(data.get("id"))
        try:
            configuration.incident_type_delete(incident_type=incident_type)
        except ServiceError as exc:
            return self.render(error=str(exc), status=400)
        return self.done(f"Incident type “{incident_type.name}” deleted.")

    def page_context(self, *, create_form=None, edited=None):
        counts = _incident_counts(self.org, "incident_type")
        rows = [
            Row(
                obj=t,
                form=edited[1] if edited and edited[0].pk == t.pk else self.edit_form(t),
                in_use=counts.get(t.pk, 0),
                deletable=not t.is_default and not counts.get(t.pk),
            )
            for t in selectors.incident_type_list(org=self.org)
        ]
        return {"rows": rows, "create_form": create_form or IncidentTypeForm()}
