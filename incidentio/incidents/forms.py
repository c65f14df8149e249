"""Forms of the incident dashboard. They parse and resolve ids through the org;
the rules themselves live in the services.

A form that feeds one service names its fields as the service's parameters:
its view passes ``cleaned_data`` on as keyword arguments, and its template
renders whatever fields it has, so a field added here reaches the service and
the page without naming it anywhere else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from uuid import UUID

from django import forms
from django.http import Http404, QueryDict
from django.utils import timezone

from incidentio.common import limits
from incidentio.incidents import selectors
from incidentio.incidents.filters import DASHBOARD_FILTERS, DRILLDOWNS, NONE, DrillDown, DrillKind
from incidentio.incidents.models import (
    INCIDENT_TIMESTAMPS,
    FollowUpPriority,
    PostmortemStatus,
    StatusCategory,
)
from orgs.calendar import PeriodError, end_of_day, period_parse
from orgs.models import User

#: The empty choice of a member select.
NOBODY = "— Nobody —"


def member_label(name: str, email: str, *, shared: bool = False) -> str:
    """How a select names a member: the name, which fits a select's width where
    "Name (e-mail)" was cut off; the e-mail without a name; both when another
    member has the same name (``shared``)."""
    name = name.strip()
    if not name:
        return email
    return f"{name} ({email})" if shared else name


def member_options(rows) -> list[tuple[str, str]]:
    """``(id, label)`` of member rows (``selectors.member_rows``), as every select
    of members shows them (``incidents/_options.html``), in the order of the labels."""
    counts = Counter(name.strip().casefold() for _, name, _ in rows if name.strip())
    options = [
        (str(pk), member_label(name, email, shared=counts[name.strip().casefold()] > 1), email)
        for pk, name, email in rows
    ]
    options.sort(key=lambda option: (option[1].casefold(), option[2]))
    return [(pk, label) for pk, label, _ in options]


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


def zone_label(label: str) -> str:
    """"When (America/New_York)": datetime inputs read and show the viewer's
    zone (orgs/time_zones.py); the field converts to and from UTC."""
    return f"{label} ({timezone.get_current_timezone_name()})"


class LocalDateTimeField(forms.DateTimeField):
    """A ``datetime-local`` input, read and shown in the active zone.

    A wall time the clocks skip (spring forward) is refused. One they repeat
    (fall back) exists twice: it is read as ``stored`` when that is one of the
    two (so a form showing a stored 01:30 EST saves it unchanged), else as the
    first. Django's own field refuses both kinds."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]

    def __init__(self, *args, stored: datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.stored = stored

    def to_python(self, value):
        try:
            return super().to_python(value)
        except forms.ValidationError as error:
            if error.code != "ambiguous_timezone":
                raise
            naive, zone = self._naive(value), timezone.get_current_timezone()
            # Each reading of the wall time that converts back to it: two for a repeated time, none for a skipped one.
            readings = [aware for aware in (naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1))
                        if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive]
            if not readings:
                raise
            stored = self.stored.astimezone(UTC) if self.stored else None
            return next((aware for aware in readings if aware.astimezone(UTC) == stored), readings[0])

    def _naive(self, value) -> datetime:
        for input_format in self.input_formats:
            try:
                return self.strptime(value.strip(), input_format)
            except (TypeError, ValueError):
                continue
        raise forms.ValidationError(self.error_messages["invalid"], code="invalid")


class TimestampsForm(forms.Form):
    """The incident's timestamps in the viewer's zone; ``stored``: their current
    values, which settle a wall time the clocks repeat (``LocalDateTimeField``)."""

    def __init__(self, *args, stored: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        for field, label in INCIDENT_TIMESTAMPS:
            self.fields[field] = LocalDateTimeField(
                label=zone_label(label), required=field == "reported_at", stored=(stored or {}).get(field),
            )

    @classmethod
    def of(cls, incident, data=None) -> TimestampsForm:
        stored = {field: getattr(incident, field) for field, _ in INCIDENT_TIMESTAMPS}
        return cls(data, initial=stored, stored=stored)


class PostmortemForm(forms.Form):
    # Labelled by the editor card's "Markdown" heading (incidents/postmortem.html).
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 24, "class": "mono", "aria-labelledby": "pm-markdown"}),
                              required=False, max_length=limits.POSTMORTEM)


class PostmortemStatusForm(forms.Form):
    status = forms.ChoiceField(choices=PostmortemStatus.choices)


class DebriefForm(OrgForm):
    scheduled_at = LocalDateTimeField(label="When")
    duration_minutes = forms.IntegerField(min_value=5, max_value=480, initial=60, label="Minutes")
    location = forms.CharField(max_length=limits.DEBRIEF_LOCATION, required=False, help_text="A room or a video-call link.")
    attendees = forms.MultipleChoiceField(required=False)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, org=org, **kwargs)
        self.fields["scheduled_at"].label = zone_label("When")
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


def _drilldown_field(drill: DrillDown) -> forms.Field:
    if drill.kind == DrillKind.CHOICE:
        return forms.ChoiceField(required=False, label=drill.label, choices=drill.choices.choices)
    if drill.kind == DrillKind.TEXT:
        return forms.CharField(required=False, label=drill.label, max_length=limits.REASON)
    # A period's text ("2026-11-02..2026-11-30") or a public id: short.
    return forms.CharField(required=False, label=drill.label, max_length=40)


#: What a drill-down of each kind that names one of the org's objects calls it in a refusal.
_OBJECT_NOUNS = {
    DrillKind.LEARNING_STATUS: "learning status",
    DrillKind.TASK_TEMPLATE: "task template",
    DrillKind.MEMBER: "member",
}
#: The chip's name for "none" of a kind that takes it.
_NONE_NAMES = {DrillKind.TASK_TEMPLATE: "Added by hand", DrillKind.MEMBER: "unassigned"}


@dataclass(frozen=True)
class FilterChip:
    """A drill-down filter the list applies, shown above the results."""

    text: str
    #: The query-string pairs it came from: the filter form keeps them (hidden inputs).
    params: list[tuple[str, str]]
    #: The list's query string without them, from its first page.
    remove_query: str


class IncidentFilterForm(OrgForm):
    """The incidents list's filters (GET), built from ``filters.DASHBOARD_FILTERS``,
    and the drill-down filters links set (``filters.DRILLDOWNS``), which have
    no control: the list shows them as :meth:`chips`.

    An empty value is "Any"; any other value not among the choices is refused
    by name, not ignored: a drill-down's period that does not parse, or an id
    that is not one of the org's, too.
    """

    after = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args, org, **kwargs):
        super().__init__(*args, org=org, **kwargs)
        fields = {f.dashboard: f.values.form_field(label=f.label) for f in DASHBOARD_FILTERS}
        # Only those the request names: all thirteen fields cost every list ≈ 0.3 ms to build
        # and clean, and the form itself never sends them (links do).
        drilldowns = {d.param: _drilldown_field(d) for d in DRILLDOWNS if d.param in self.data}
        self.fields = {**fields, **drilldowns, "after": self.fields["after"]}
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
        # severity=none (a drill-down) is valid beside the org's severities; the select does not offer it.
        fields["severity"].choices = lambda: [*self.options["severity"], (NONE, "No severity")]

    @property
    def controls(self) -> list[tuple]:
        """Each filter's bound field with its select's options (None for a text box), in order."""
        return [(self[f.dashboard], self.options.get(f.dashboard)) for f in DASHBOARD_FILTERS]

    def clean_assignee(self):
        return self._member("assignee")

    def clean(self):
        """The drill-downs' periods in the org's time zone, and the org's
        objects they name (``selectors.OrgRef``) looked up in one query, and
        only when one is named: the unfiltered list runs no query more."""
        cleaned = super().clean()
        wanted = {}
        for drill in DRILLDOWNS:
            value = cleaned.get(drill.param)
            if not value:
                continue
            if drill.kind == DrillKind.PERIOD:
                self._clean_period(drill, value)
            elif drill.kind in _OBJECT_NOUNS:
                if value == NONE and drill.kind in _NONE_NAMES:
                    cleaned[drill.param] = selectors.OrgRef(None, _NONE_NAMES[drill.kind])
                else:
                    wanted[drill] = _uuid(value)
        if wanted:
            named = {d.param: public_id for d, public_id in wanted.items() if public_id is not None}
            refs = selectors.drilldown_refs(
                org=self.org, learning_status=named.get("visited_status"),
                task_template=named.get("task_template"), member=named.get("task_assignee"),
            ) if named else {}
            for drill in wanted:
                if drill.param in refs:
                    cleaned[drill.param] = refs[drill.param]
                else:
                    self.add_error(drill.param, f"Unknown {_OBJECT_NOUNS[drill.kind]} in this organization.")
        return cleaned

    def _clean_period(self, drill: DrillDown, text: str) -> None:
        try:
            period = period_parse(text, self.org.time_zone)
            if not date.min < period.first <= period.last < date.max:
                # The first and last days a datetime has: their midnights in UTC may not be one.
                raise PeriodError(f"“{text}” is out of range.")
        except PeriodError as error:
            self.add_error(drill.param, str(error))
        else:
            self.cleaned_data[drill.param] = period

    def filters(self) -> selectors.IncidentFilters:
        """The valid form's filters, as the list's query takes them."""
        chosen = {f.target: f.values.form_value(self.cleaned_data[f.dashboard]) for f in DASHBOARD_FILTERS}
        no_severity = NONE in chosen["severity"]
        chosen["severity"] = [value for value in chosen["severity"] if value != NONE]
        drilldown = selectors.DrillDownFilters(
            **{d.param: self.cleaned_data[d.param] for d in DRILLDOWNS if self.cleaned_data.get(d.param)},
            no_severity=no_severity, now=timezone.now(),
        )
        return selectors.IncidentFilters(**chosen, drilldown=drilldown)

    def chips(self, query: QueryDict) -> list[FilterChip]:
        """The valid form's drill-down filters as the list shows them above the
        results ("Reported in Week of 2 Nov 2026"), each with the ``query``
        (the request's) without it. A group's parameters are one chip ("Task:
        Write the post-mortem · Not doing"): they are one condition."""
        cleaned = self.cleaned_data
        chips = []

        def add(text: str, params: list[tuple[str, str]]) -> None:
            rest = query.copy()
            rest.pop("after", None)
            for name, value in params:
                if name == "severity":  # the "none" of severity's values; the select's stay
                    rest.setlist(name, [kept for kept in rest.getlist(name) if kept != value])
                else:
                    rest.pop(name, None)
            chips.append(FilterChip(text, params, rest.urlencode()))

        groups: dict[str, tuple[list[str], list[tuple[str, str]]]] = {}
        for drill in DRILLDOWNS:
            value = cleaned.get(drill.param)
            if not value:
                continue
            param = [(drill.param, query.get(drill.param))]
            if drill.group:
                parts, params = groups.setdefault(drill.group, ([], []))
                parts.append(_chip_part(drill, value))
                params.extend(param)
            elif drill.kind == DrillKind.PERIOD:
                add(f"{drill.label} {_during(value)}", param)
            elif drill.kind == DrillKind.TEXT:
                add(f"{drill.label}: “{value}”", param)
            else:
                add(f"{drill.label}: {value.name}", param)
        if NONE in cleaned.get("severity", []):
            add("No severity", [("severity", NONE)])
        for group, label in (("task", "Task"), ("follow_up", "Follow-up")):
            if group in groups:
                parts, params = groups[group]
                add(f"{label}: {' · '.join(parts)}", params)
        return chips

    def error_lines(self) -> list[str]:
        """Each refused value's message, after the label of its control (or drill-down), in their order."""
        labels = {f.dashboard: f.label for f in DASHBOARD_FILTERS} | {d.param: d.label for d in DRILLDOWNS}
        return [f"{labels.get(name, name)}: {' '.join(self.errors[name])}" for name in self.fields
                if name in self.errors]


def _uuid(value: str) -> UUID | None:
    try:
        return UUID(value)
    except ValueError:
        return None  # no object of the org has it


def _during(period) -> str:
    """"in Nov 2026", "in Week of 2 Nov 2026", "on 2 Nov 2026"."""
    return f"{'on' if period.first == period.last else 'in'} {period.label}"


def _chip_part(drill: DrillDown, value) -> str:
    """One drill-down of a group as its chip says it ("Not doing", "created in Nov 2026")."""
    if drill.kind == DrillKind.PERIOD:
        return f"{drill.label.split()[-1]} {_during(value)}"  # "Task created" → "created in …"
    if drill.kind == DrillKind.CHOICE:
        label = drill.choices(value).label
        return {"follow_up_open_age": f"open {label.lower()}", "follow_up_priority": f"{label} priority"}.get(
            drill.param, label)
    if drill.kind == DrillKind.MEMBER:
        return value.name if value.pk is None else f"assigned to {value.name}"
    return value.name
