"""The incidents lists' filters, described once for the dashboard and the API.

Each :class:`Filter` says what one filter takes (:class:`Values`: fixed
choices, the org's statuses, severities or members, text, a moment), under
which parameter each surface offers it, and what it fills in the list's query:
for the dashboard the :class:`~incidentio.incidents.selectors.IncidentFilters` field
(``target``), for the API the condition of ``queries.FILTER_CONDITIONS``
keyed by its parameter. The dashboard's form (``IncidentFilterForm``) and the
API's parameters (``IncidentListParams``) build their fields from
:data:`FILTERS`, so a filter is added here once.

An empty value means "Any" on both surfaces: a browser submits every control
of the form, those left on "Any" as ``name=``, and the API drops the empty
parts of a ``[one_of]`` list (``?status[one_of]=`` filters nothing out). A
value that is not empty and not one of the choices (garbage, another org's
id) is refused by name: a 400 with the message on the dashboard, listing
nothing; a 422 naming the parameter on the API.

The conditions themselves stay with the queries (``queries.dashboard_conditions``,
``FILTER_CONDITIONS``): each list runs one prepared statement whose text
they are part of.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django import forms
from django.db import models
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from incidentio.api.serializers import OneOfField
from incidentio.incidents.models import (
    FollowUpPriority,
    IncidentStatus,
    IncidentType,
    LearningFlowState,
    Severity,
    StatusCategory,
)

#: The search box's longest query.
QUERY_MAX_LENGTH = 200


def chosen(values: list[str]) -> list[str]:
    """The values of a many-valued control without the empty ones: "Any" is no choice."""
    return [value for value in values if value not in ("", None)]


class FilterSelect(forms.Select):
    """One ``<select>`` for a filter that takes several values: the query string
    may repeat the parameter (``?status=a&status=b``), and all of them are read.
    The list's template renders its options (``{% select_options %}``), showing
    the last, as ``request.GET[name]`` reads it."""

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)


class AnyMultipleChoiceField(forms.MultipleChoiceField):
    """A filter select: ``?category=`` (the "Any" option) chooses nothing."""

    widget = FilterSelect

    def to_python(self, value):
        return chosen(super().to_python(value))


class Values:
    """How a filter's values are read. A surface a kind does not serve raises."""

    #: Whether the dashboard offers it as a select (else as a text box).
    select = True

    def form_field(self, *, label: str) -> forms.Field:
        raise TypeError(f"{type(self).__name__} is not a dashboard filter")

    def form_value(self, value):
        """The dashboard form's cleaned value as the query takes it."""
        return value

    def api_field(self) -> serializers.Field:
        raise TypeError(f"{type(self).__name__} is not an API filter")

    def api_parameter(self, name: str) -> OpenApiParameter:
        raise TypeError(f"{type(self).__name__} is not an API filter")

    def api_resolve(self, org, value, name: str):
        """The validated API value as the query takes it (org lookups happen here)."""
        return value


@dataclass(frozen=True)
class Fixed(Values):
    """Any of a fixed set of choices (a ``TextChoices``)."""

    choices: type

    def form_field(self, *, label):
        return AnyMultipleChoiceField(required=False, label=label, choices=self.choices.choices)

    def api_field(self):
        return OneOfField(child=serializers.ChoiceField(self.choices.choices), required=False)

    def api_parameter(self, name):
        return OpenApiParameter(
            name, OpenApiTypes.STR, many=True, explode=True, style="form", enum=self.choices.values,
            description="Any of these; repeat the parameter or separate values with commas.",
        )


@dataclass(frozen=True)
class OrgObjects(Values):
    """Any of the org's statuses, severities or incident types, by public id. The dashboard
    offers the org's own as its choices (IncidentFilterForm, per org); the API
    looks the ids up in the org."""

    model: type
    #: What one of them is called in the API's description and errors ("status").
    noun: str

    def form_field(self, *, label):
        return AnyMultipleChoiceField(required=False, label=label)  # choices: IncidentFilterForm, per org

    def api_field(self):
        return OneOfField(child=serializers.UUIDField(), required=False)

    def api_parameter(self, name):
        return OpenApiParameter(
            name, OpenApiTypes.UUID, many=True, explode=True, style="form",
            description=f"{self.noun.capitalize()} ids; repeat the parameter or separate ids with commas.",
        )

    def api_resolve(self, org, value, name):
        wanted = set(value)
        found = list(self.model.objects.filter(org=org, public_id__in=wanted))
        if len(found) != len(wanted):
            raise serializers.ValidationError({name: f"Unknown {self.noun} in this organization."})
        return found


class SeverityAtLeast(Values):
    """One of the org's severities, by public id: it or higher."""

    def api_field(self):
        return serializers.UUIDField(required=False)

    def api_parameter(self, name):
        return OpenApiParameter(name, OpenApiTypes.UUID, description="A severity id: that severity or higher.")

    def api_resolve(self, org, value, name):
        severity = Severity.objects.filter(org=org, public_id=value).first()
        if severity is None:
            raise serializers.ValidationError({name: "Unknown severity in this organization."})
        return severity


class Member(Values):
    """One member of the org (a user id), holding any role on the incident."""

    def form_field(self, *, label):
        return forms.ChoiceField(required=False, label=label)  # choices: IncidentFilterForm, per org

    def form_value(self, value):
        return value.pk if value is not None else None  # the form cleans it to the member (a User)


class Text(Values):
    """A name to search for, or a reference such as INC-12."""

    select = False

    def form_field(self, *, label):
        return forms.CharField(required=False, max_length=QUERY_MAX_LENGTH, label=label,
                               widget=forms.TextInput(attrs={"placeholder": "Name or INC-12"}))


@dataclass(frozen=True)
class Moment(Values):
    """An ISO 8601 date and time, as a bound."""

    description: str

    def api_field(self):
        return serializers.DateTimeField(required=False)

    def api_parameter(self, name):
        return OpenApiParameter(name, OpenApiTypes.DATETIME, description=self.description)


@dataclass(frozen=True)
class Filter:
    label: str
    values: Values
    #: The dashboard list's GET parameter, and the IncidentFilters field it fills.
    dashboard: str | None = None
    target: str | None = None
    #: The API list's query parameter (its operator in brackets): its FILTER_CONDITIONS key.
    api: str | None = None
    #: The label of the dashboard select's empty option; None when the choices carry their own.
    any_label: str | None = "Any"


FILTERS = (
    Filter("Search", Text(), dashboard="q", target="query", any_label=None),
    Filter("Category", Fixed(StatusCategory), dashboard="category", target="category", api="status_category[one_of]"),
    Filter("Status", OrgObjects(IncidentStatus, "status"), dashboard="status", target="status", api="status[one_of]"),
    Filter("Severity", OrgObjects(Severity, "severity"), dashboard="severity", target="severity"),
    Filter("Severity at or above", SeverityAtLeast(), api="severity[gte]"),
    Filter("Type", OrgObjects(IncidentType, "incident type"), dashboard="incident_type", target="incident_type", api="incident_type[one_of]"),
    Filter("Reported from", Moment("Reported at or after (ISO 8601)."), api="created_at[gte]"),
    Filter("Reported until", Moment("Reported at or before (ISO 8601)."), api="created_at[lte]"),
    Filter("Learning flow", Fixed(LearningFlowState), dashboard="learning_flow", target="learning_flow",
           api="learning_flow[one_of]"),
    # The assignee's choices start with their own empty option, "Anyone".
    Filter("Person in a role", Member(), dashboard="assignee", target="assignee_id", any_label=None),
)

DASHBOARD_FILTERS = tuple(f for f in FILTERS if f.dashboard)
API_FILTERS = tuple(f for f in FILTERS if f.api)


# --- Drill-down filters ------------------------------------------------------------------------
# The dashboard list's filters that links set, each bar of an Insights chart
# (docs/insights.md) naming the incidents behind it. The form has no control
# for them (IncidentFilterForm keeps its controls); the list shows each one
# set as a chip that removes it. Bad values are refused by name like the
# controls' (a 400 listing nothing). Not on the API.
#
# One more value drills down through a control: ``severity=none``, the
# incidents without a severity, is one of the Severity filter's "any of"
# values beside the org's severities (the select does not offer it).


class TaskOutcome(models.TextChoices):
    """What became of a learning task, as the Tasks panel of Insights tells them apart."""

    COMPLETED_BY_HAND = "completed_by_hand", "Completed by hand"
    COMPLETED_AUTOMATICALLY = "completed_automatically", "Completed automatically"
    NOT_DOING = "not_doing", "Not doing"
    OUTSTANDING = "outstanding", "Outstanding"
    #: Outstanding and due (``due_at`` at or before now).
    OVERDUE = "overdue", "Overdue"


class FollowUpAge(models.TextChoices):
    """How long an outstanding follow-up has been open: whole days (24 hours) since it was created."""

    UP_TO_30 = "0-30", "0–30 days"
    UP_TO_90 = "31-90", "31–90 days"
    OVER_90 = "91-", "Over 90 days"


class OnTime(models.TextChoices):
    """A completed follow-up with a due date: completed by it, or after it."""

    YES = "yes", "On time"
    NO = "no", "Late"


class DrillKind(StrEnum):
    #: A period of local days in the org's time zone (``orgs.calendar.period_parse``).
    PERIOD = "period"
    #: A text compared exactly, without the whitespace around it.
    TEXT = "text"
    #: One of ``DrillDown.choices``.
    CHOICE = "choice"
    #: One of the org's learning statuses, by public id.
    LEARNING_STATUS = "learning_status"
    #: One of the org's task templates by public id, or ``none`` (tasks added by hand).
    TASK_TEMPLATE = "task_template"
    #: A member of the org by membership public id, or ``none`` (unassigned).
    MEMBER = "member"


#: The value of a task template or member drill-down that asks for "without one".
NONE = "none"


@dataclass(frozen=True)
class DrillDown:
    """One drill-down parameter: its GET name (also the
    :class:`~incidentio.incidents.selectors.DrillDownFilters` field it fills),
    the label that names it in a refusal, what it takes, and its group: the
    parameters of a group are one condition (one task, or one follow-up,
    matching all of them) and one chip."""

    param: str
    label: str
    kind: DrillKind
    choices: type | None = None
    group: str | None = None


DRILLDOWNS = (
    DrillDown("reported", "Reported", DrillKind.PERIOD),
    DrillDown("closed", "Closed", DrillKind.PERIOD),
    DrillDown("opt_out_reason", "Opt-out reason", DrillKind.TEXT),
    DrillDown("visited_status", "Learning status visited", DrillKind.LEARNING_STATUS),
    DrillDown("task_template", "Task template", DrillKind.TASK_TEMPLATE, group="task"),
    DrillDown("task_state", "Task state", DrillKind.CHOICE, TaskOutcome, group="task"),
    DrillDown("task_created", "Task created", DrillKind.PERIOD, group="task"),
    DrillDown("task_assignee", "Task assignee", DrillKind.MEMBER, group="task"),
    DrillDown("follow_up_created", "Follow-up created", DrillKind.PERIOD, group="follow_up"),
    DrillDown("follow_up_completed", "Follow-up completed", DrillKind.PERIOD, group="follow_up"),
    DrillDown("follow_up_open_age", "Follow-up open for", DrillKind.CHOICE, FollowUpAge, group="follow_up"),
    DrillDown("follow_up_priority", "Follow-up priority", DrillKind.CHOICE, FollowUpPriority, group="follow_up"),
    DrillDown("follow_up_on_time", "Follow-up on time", DrillKind.CHOICE, OnTime, group="follow_up"),
)
