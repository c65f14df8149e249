"""Forms of the incident dashboard. They parse and resolve ids through the org;
the rules themselves live in the services.

A form that feeds one service names its fields as the service's parameters:
its view passes ``cleaned_data`` on as keyword arguments, and its template
renders whatever fields it has, so a field added here reaches the service and
the page without naming it anywhere else.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import Http404

from incidentio.common import limits
from incidentio.incidents import selectors
from incidentio.incidents.filters import DASHBOARD_FILTERS
from incidentio.incidents.models import (
    INCIDENT_TIMESTAMPS,
    FollowUpPriority,
    PostmortemStatus,
    StatusCategory,
)
from orgs.calendar import end_of_day
from orgs.models import User

#: The empty choice of a member select.
NOBODY = "— Nobody —"


def member_options(rows) -> list[tuple[str, str]]:
    """``(id, "Name (e-mail)")`` of member rows (``selectors.member_rows``), as
    every select of members shows them (``incidents/_options.html``)."""
    return [(str(pk), f"{User.display_name_of(name, email)} ({email})") for pk, name, email in rows]


def member_choices(org, blank: str | None = NOBODY) -> list[tuple[str, str]]:
    """The org's members as select choices, after a ``blank`` choice unless it is None."""
    choices = member_options(selectors.member_rows(org=org))
    return choices if blank is None else [("", blank), *choices]


class OrgForm(forms.Form):
    """A form whose choices come from one organization."""

    def __init__(self, *args, org, **kwargs):
        self.org = org
        super().__init__(*args, **kwargs)

    def _member(self, field: str):
        value = self.cleaned_data.get(field)
        if not value:
            return None
        user = User.objects.filter(pk=value, memberships__org=self.org).first()
        if user is None:
            raise forms.ValidationError("Choose a member of this organization.")
        return user


def _severity_choices(org, blank=None):
    choices = [(str(s.public_id), s.name) for s in selectors.severity_list(org=org)]
    return ([("", blank)] if blank else []) + choices


class DeclareForm(OrgForm):
    """Its fields are ``incident_declare``'s parameters (DeclareView), in the order the page shows them."""

    name = forms.CharField(max_length=limits.INCIDENT_NAME, label="Name", help_text="What is broken, in a few words.")
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False,
                              help_text="Markdown. What we know so far.")
    incident_type = forms.ChoiceField(required=False, label="Type")
    severity = forms.ChoiceField(required=False)
    lead = forms.ChoiceField(required=False, label="Incident lead")
    triage = forms.BooleanField(required=False, label="Start in triage (not yet confirmed)")

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, org=org, **kwargs)
        types = list(selectors.incident_type_list(org=org))
        if len(types) > 1:
            self.fields["incident_type"].choices = [(str(t.public_id), t.name) for t in types]
            self.fields["incident_type"].initial = next((str(t.public_id) for t in types if t.is_default), None)
            self.fields["incident_type"].help_text = " ".join(
                f"{t.name}: {t.description}" for t in types if t.description
            )
        else:
            # One type: nothing to choose; the incident gets the default.
            del self.fields["incident_type"]
        self.fields["severity"].choices = _severity_choices(org, blank="— Not set —")
        self.fields["lead"].choices = member_choices(org)

    def clean_incident_type(self):
        value = self.cleaned_data.get("incident_type")
        try:
            return selectors.incident_type_get(org=self.org, public_id=value) if value else None
        except Http404:
            raise forms.ValidationError("Choose one of the listed types.") from None

    def clean_severity(self):
        value = self.cleaned_data.get("severity")
        try:
            return selectors.severity_get(org=self.org, public_id=value) if value else None
        except Http404:
            raise forms.ValidationError("Choose one of the listed severities.") from None

    def clean_lead(self):
        return self._member("lead")


class EditForm(OrgForm):
    """Status, severity and type of an incident, from the incident page. A
    type left out (the page shows no select with one type) changes nothing."""

    status = forms.ChoiceField(required=False)
    severity = forms.ChoiceField(required=False)
    incident_type = forms.ChoiceField(required=False)

    def __init__(self, *args, org, choices: tuple[list, list, list] | None = None, **kwargs):
        """``choices``: the live statuses', the severities' and the types'
        ``(public id, name)`` choices when the page has read them already."""
        super().__init__(*args, org=org, **kwargs)
        if choices is None:
            choices = selectors.filter_choices(org=org, status_categories={StatusCategory.LIVE})
        statuses, severities, types = choices
        self.fields["status"].choices = statuses
        self.fields["severity"].choices = [("", "— Not set —"), *severities]
        self.fields["incident_type"].choices = [("", ""), *types]

    def _resolve(self, field, getter):
        value = self.cleaned_data.get(field)
        if not value:
            return None
        try:
            return getter(org=self.org, public_id=value)
        except Http404:
            raise forms.ValidationError("Choose one of the listed values.") from None

    def clean_status(self):
        return self._resolve("status", selectors.status_get)

    def clean_severity(self):
        return self._resolve("severity", selectors.severity_get)

    def clean_incident_type(self):
        return self._resolve("incident_type", selectors.incident_type_get)


class DetailsForm(forms.Form):
    """The incident's own text, from the incident page: its fields are
    ``incident_edit``'s parameters and the incident's attributes of the same name."""

    name = forms.CharField(max_length=limits.INCIDENT_NAME)
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 5}), required=False)

    @classmethod
    def of(cls, incident) -> DetailsForm:
        """The form filled with the incident's current values."""
        return cls(initial={name: getattr(incident, name) for name in cls.base_fields})


class UpdateForm(forms.Form):
    message = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "placeholder": "What changed? Markdown works."}),
                              max_length=limits.UPDATE_MESSAGE)


class CloseForm(forms.Form):
    """Closing: run the learning flow, or opt out with a reason (the service decides
    which choices the org's rules allow)."""

    learning_flow = forms.ChoiceField(required=False, choices=[("", ""), ("run", "Run"), ("opt_out", "Opt out")])
    opt_out_reason = forms.CharField(required=False, max_length=limits.REASON, widget=forms.Textarea(attrs={"rows": 2}))


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=limits.REASON)


class MergeForm(forms.Form):
    into = forms.CharField(label="Merge into", help_text="A reference such as INC-12.")


class AssignRoleForm(OrgForm):
    role = forms.UUIDField()
    user = forms.ChoiceField(required=False)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, org=org, **kwargs)
        self.fields["user"].choices = member_choices(org)

    def clean_role(self):
        try:
            return selectors.role_get(org=self.org, public_id=self.cleaned_data["role"])
        except Http404:
            raise forms.ValidationError("Choose one of the listed roles.") from None

    def clean_user(self):
        return self._member("user")


class TimestampsForm(forms.Form):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field, label in INCIDENT_TIMESTAMPS:
            self.fields[field] = forms.DateTimeField(
                label=f"{label} (UTC)",
                required=field == "reported_at",
                widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
                input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
            )


class PostmortemForm(forms.Form):
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 24, "class": "mono"}), required=False,
                              max_length=limits.POSTMORTEM)


class PostmortemStatusForm(forms.Form):
    status = forms.ChoiceField(choices=PostmortemStatus.choices)


class DebriefForm(OrgForm):
    scheduled_at = forms.DateTimeField(
        label="When (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    duration_minutes = forms.IntegerField(min_value=5, max_value=480, initial=60, label="Minutes")
    location = forms.CharField(max_length=limits.DEBRIEF_LOCATION, required=False, help_text="A room or a video-call link.")
    attendees = forms.MultipleChoiceField(required=False)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, org=org, **kwargs)
        self.fields["attendees"].choices = member_choices(org, blank=None)

    def clean_attendees(self):
        ids = self.cleaned_data.get("attendees") or []
        users = list(User.objects.filter(pk__in=ids, memberships__org=self.org))
        if len(users) != len(set(ids)):
            raise forms.ValidationError("Choose members of this organization.")
        return users


def _due_at(org, day):
    return end_of_day(org.time_zone, day) if day else None


def _due_date_field() -> forms.DateField:
    return forms.DateField(
        required=False, label="Due date", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Due by the end of that day. Leave empty to follow the organization's due-date policy "
        "for the priority.",
    )


class FollowUpDueForm(OrgForm):
    """A follow-up's due date set by hand (due by the end of that day, in the
    org's time zone); empty returns it to the org's due-date policy."""

    due_date = _due_date_field()

    def clean_due_date(self):
        return _due_at(self.org, self.cleaned_data.get("due_date"))


class FollowUpForm(OrgForm):
    title = forms.CharField(max_length=limits.FOLLOW_UP_TITLE)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    assignee = forms.ChoiceField(required=False)
    priority = forms.ChoiceField(choices=FollowUpPriority.choices, initial=FollowUpPriority.MEDIUM)
    due_date = _due_date_field()

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, org=org, **kwargs)
        self.fields["assignee"].choices = member_choices(org, blank="— Unassigned —")

    def clean_assignee(self):
        return self._member("assignee")

    def clean_due_date(self):
        return _due_at(self.org, self.cleaned_data.get("due_date"))


class IncidentFilterForm(OrgForm):
    """The incidents list's filters (GET), built from ``filters.DASHBOARD_FILTERS``.

    An empty value is "Any"; any other value not among the choices is refused
    by name, not ignored.
    """

    after = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, org=org, **kwargs)
        fields = {f.dashboard: f.values.form_field(label=f.label) for f in DASHBOARD_FILTERS}
        self.fields = {**fields, "after": self.fields["after"]}
        statuses, severities, types = selectors.filter_choices(org=org)
        #: The org has types to tell apart: the list shows each incident's.
        self.shows_types = len(types) > 1
        choices = {"status": statuses, "severity": severities, "incident_type": types,
                   "assignee": member_choices(org, blank="Anyone")}
        #: Each select's (value, label) options, as the list's template renders them.
        self.options = {}
        for f in DASHBOARD_FILTERS:
            if f.values.select:
                options = choices.get(f.dashboard) or list(fields[f.dashboard].choices)
                self.options[f.dashboard] = options if f.any_label is None else [("", f.any_label), *options]
                # A callable: Django normalizes a list of choices when it is set
                # (0.6 ms for 200 members) and a callable's only when a submitted
                # value is checked against them, which an unfiltered view never does.
                fields[f.dashboard].choices = self.options[f.dashboard].copy

    @property
    def controls(self) -> list[tuple]:
        """Each filter's bound field with its select's options (None for a text box), in order."""
        return [(self[f.dashboard], self.options.get(f.dashboard)) for f in DASHBOARD_FILTERS]

    def clean_assignee(self):
        return self._member("assignee")

    def filters(self) -> selectors.IncidentFilters:
        """The valid form's filters, as the list's query takes them."""
        return selectors.IncidentFilters(**{
            f.target: f.values.form_value(self.cleaned_data[f.dashboard]) for f in DASHBOARD_FILTERS
        })

    def error_lines(self) -> list[str]:
        """Each refused value's message, after the label of its control."""
        labels = {f.dashboard: f.label for f in DASHBOARD_FILTERS}
        return [f"{labels.get(name, name)}: {' '.join(errors)}" for name, errors in self.errors.items()
                if name != NON_FIELD_ERRORS]
