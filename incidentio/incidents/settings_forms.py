"""Forms of the incident core's dashboard pages.

They parse input into the arguments of a service; the rules (which categories
may be configured, unique names, built-in roles…) live in the services, whose
``ServiceError`` the views put back on the form.
"""

from __future__ import annotations

from django import forms

from incidentio.common import limits
from incidentio.incidents.models import CONFIGURABLE_CATEGORIES, StatusCategory, StatusMilestone

#: The milestone choices, with the blank one spelt out for a select.
MILESTONE_CHOICES = [("", "None"), *((v, label) for v, label in StatusMilestone.choices if v)]


class StatusEditForm(forms.Form):
    """Rename or describe a status; its category never changes."""

    name = forms.CharField(max_length=limits.CONFIG_NAME)
    milestone = forms.ChoiceField(
        choices=MILESTONE_CHOICES,
        required=False,
        label="Timestamp",
        help_text="Live statuses only: set when an incident first enters the status.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class StatusForm(StatusEditForm):
    """Add a status."""

    category = forms.ChoiceField(choices=StatusCategory.choices, initial=StatusCategory.LIVE)
    field_order = ["name", "category", "milestone", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Offer only the categories an org configures. Any known category
        # parses: refusing the others is the service's rule, and its message.
        offered = [(c.value, c.label) for c in CONFIGURABLE_CATEGORIES]
        self.fields["category"].widget.choices = offered


class SeverityForm(forms.Form):
    name = forms.CharField(max_length=limits.CONFIG_NAME)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class IncidentTypeForm(forms.Form):
    name = forms.CharField(max_length=limits.CONFIG_NAME)
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="When to choose this type; shown to people declaring an incident.",
    )


class RoleForm(forms.Form):
    name = forms.CharField(max_length=limits.CONFIG_NAME)
    shortform = forms.CharField(
        max_length=limits.ROLE_SHORTFORM,
        label="Short form",
        help_text="A short handle, e.g. “comms”.",
    )
    instructions = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="What the person in this role should do.",
    )
    required = forms.BooleanField(
        required=False,
        help_text="Every incident should have someone in this role.",
    )
