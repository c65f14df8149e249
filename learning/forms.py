"""Forms of the learning-flow settings page.

They parse input into a service's arguments and nothing more. Roles and
severities travel as public UUIDs: the view resolves them through the org
(another org's id is a 404), and the rules — an “Assign a role” task needs
its role, a title is required… — live in ``learning.services.configuration``,
whose ``ServiceError`` the view puts back on the form.

Choices are passed in as lists the view builds once, so a page with many
forms costs no more queries than a page with one.
"""

from __future__ import annotations

from django import forms

from incidentio.common import limits
from learning.models import DigestFrequency, DueFrom, TaskKind, UnmatchedPolicy
from learning.services.digests import WEEKDAYS

NOBODY = "Nobody"


NO_SEVERITY = "— none —"

DEFAULT_FLOW = "The default flow"


def public_id_choices(objects) -> list[tuple[str, str]]:
    """``[(public_id, name), …]`` for a select of the org's objects."""
    return [(str(obj.public_id), obj.name) for obj in objects]


def _select(field: forms.Field, choices: list[tuple[str, str]]) -> None:
    field.widget.choices = choices


class RulesForm(forms.Form):
    """The lifecycle rules of one incident type."""

    learning_flow = forms.UUIDField(
        required=False,
        label="Learning flow",
        widget=forms.Select,
        help_text="The flow its incidents run after they are closed.",
    )
    auto_enter_all = forms.BooleanField(
        required=False,
        label="Every incident of this type enters the flow",
        help_text="Whatever its severity; whoever closes it can still opt out, saying why.",
    )
    auto_enter_min_severity = forms.UUIDField(
        required=False,
        label="Run the flow automatically from severity",
        widget=forms.Select,
        help_text="Incidents of this severity or worse enter the flow when they are closed.",
    )
    otherwise = forms.ChoiceField(
        choices=UnmatchedPolicy.choices,
        label="Other incidents",
        help_text="What happens when a closed incident is below that severity.",
    )

    def __init__(self, *args, severity_choices: list[tuple[str, str]], flow_choices: list[tuple[str, str]],
                 **kwargs):
        super().__init__(*args, **kwargs)
        _select(self.fields["auto_enter_min_severity"], [("", NO_SEVERITY)] + severity_choices)
        _select(self.fields["learning_flow"], [("", DEFAULT_FLOW)] + flow_choices)


class FlowForm(forms.Form):
    """Add, rename or describe a learning flow."""

    name = forms.CharField(max_length=limits.CONFIG_NAME)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class LearningStatusForm(forms.Form):
    """Add, rename or describe a learning status."""

    name = forms.CharField(max_length=limits.CONFIG_NAME)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


class TaskTemplateForm(forms.Form):
    """Add or edit one task template of a learning status."""

    title = forms.CharField(max_length=limits.TASK_TITLE)
    kind = forms.ChoiceField(
        choices=TaskKind.choices,
        initial=TaskKind.CUSTOM,
        help_text="Built-in kinds complete themselves when their event happens; "
        "the others are checked off by a person.",
    )
    target_role = forms.UUIDField(
        required=False,
        label="Role to assign",
        widget=forms.Select,
        help_text="For “Assign a role” only: the task completes when this role is assigned.",
    )
    assignee_role = forms.UUIDField(
        required=False,
        label="Default assignee",
        widget=forms.Select,
        help_text="Whoever holds this role when the incident reaches the status gets the task.",
    )
    required = forms.BooleanField(
        required=False,
        initial=True,
        help_text="The incident moves on once its required tasks are completed or marked "
        "not doing; optional ones do not hold it up.",
    )
    instructions = forms.CharField(
        required=False,
        max_length=limits.CONFIG_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Markdown.",
    )
    due_days = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=365,
        label="Due after (business days)",
        help_text="Empty: no due date. 0: due the same day.",
    )
    due_from = forms.ChoiceField(
        choices=DueFrom.choices,
        initial=DueFrom.TASK_CREATED,
        required=False,
        label="Counted from",
    )

    def __init__(self, *args, role_choices: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        _select(self.fields["assignee_role"], [("", NOBODY)] + role_choices)
        _select(self.fields["target_role"], [("", "—")] + role_choices)


class DigestForm(forms.Form):
    """Settings → Digests. The e-mail list and the channel are parsed and
    checked by ``learning.services.digests`` (one set of rules)."""

    enabled = forms.BooleanField(required=False, label="Send a digest")
    frequency = forms.ChoiceField(choices=DigestFrequency.choices, label="How often")
    weekday = forms.TypedChoiceField(
        coerce=int, choices=list(enumerate(WEEKDAYS)), label="Day (weekly digests)",
    )
    hour = forms.TypedChoiceField(coerce=int, choices=[(h, f"{h:02d}:00") for h in range(24)], label="Hour")
    slack_channel = forms.CharField(
        required=False, max_length=200, label="Slack channel",
        help_text="The channel's ID (in Slack: the channel's details, at the bottom) or a link to it. "
                  "For a private channel, invite the app first. Blank: no Slack digest.",
    )
    emails = forms.CharField(
        required=False, max_length=10000, label="E-mail addresses", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Separated by commas or new lines; up to 20. Blank: no e-mail digest.",
    )

    def __init__(self, *args, zone_name: str, slack_connected: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hour"].label = f"Hour ({zone_name} time)"
        if not slack_connected:
            del self.fields["slack_channel"]
