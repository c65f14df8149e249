"""The learning flow (docs/learning-flow.md): what happens after an incident is closed.

An org's learning statuses are its ``learning``-category IncidentStatuses.
Each has ordered TaskTemplates; when an incident enters the status, the
templates are copied into LearningTasks (a snapshot: later configuration
changes do not rewrite in-flight incidents).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidentio.common import limits
from incidentio.incidents.models import Incident, IncidentRole, IncidentStatus, Severity
from orgs.models import Organization


class TaskKind(models.TextChoices):
    CREATE_POSTMORTEM = "create_postmortem", "Create the post-mortem"
    COMPLETE_POSTMORTEM = "complete_postmortem", "Mark the post-mortem as complete"
    SHARE_POSTMORTEM = "share_postmortem", "Share the post-mortem"
    SCHEDULE_DEBRIEF = "schedule_debrief", "Schedule the debrief"
    CREATE_FOLLOW_UPS = "create_follow_ups", "Create follow-ups"
    ASSIGN_ROLE = "assign_role", "Assign a role"
    REVIEW_TIMELINE = "review_timeline", "Review the timeline"
    REVIEW_FOLLOW_UPS = "review_follow_ups", "Review follow-ups"
    UPDATE_TIMESTAMPS = "update_timestamps", "Update timestamps"
    CUSTOM = "custom", "Custom"


#: Kinds that complete themselves when their event happens in the product.
AUTOMATIC_KINDS = frozenset(
    {
        TaskKind.CREATE_POSTMORTEM,
        TaskKind.COMPLETE_POSTMORTEM,
        TaskKind.SHARE_POSTMORTEM,
        TaskKind.SCHEDULE_DEBRIEF,
        TaskKind.CREATE_FOLLOW_UPS,
        TaskKind.ASSIGN_ROLE,
    }
)


class TaskTemplate(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="task_templates")
    status = models.ForeignKey(IncidentStatus, on_delete=models.CASCADE, related_name="task_templates")
    title = models.CharField(max_length=limits.TASK_TITLE)
    instructions = models.TextField(blank=True)
    kind = models.CharField(max_length=32, choices=TaskKind.choices, default=TaskKind.CUSTOM)
    required = models.BooleanField(default=True)
    #: The role whose holder gets the task; null means nobody by default.
    assignee_role = models.ForeignKey(
        IncidentRole, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: For kind ``assign_role``: the role that must be assigned.
    target_role = models.ForeignKey(
        IncidentRole, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    rank = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rank", "pk"]

    def __str__(self) -> str:
        return self.title


class UnmatchedPolicy(models.TextChoices):
    ASK = "ask", "Ask whoever closes the incident"
    NEVER = "never", "Never run the learning flow"


class LifecycleRules(models.Model):
    """When a closed incident enters the learning flow."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="lifecycle_rules")
    #: Incidents at or above this severity enter the flow automatically; null: none do.
    auto_enter_min_severity = models.ForeignKey(
        Severity, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: What happens to the other incidents.
    otherwise = models.CharField(max_length=8, choices=UnmatchedPolicy.choices, default=UnmatchedPolicy.ASK)

    class Meta:
        verbose_name_plural = "lifecycle rules"


class TaskState(models.TextChoices):
    OUTSTANDING = "outstanding", "Outstanding"
    COMPLETED = "completed", "Completed"
    NOT_DOING = "not_doing", "Not doing"


class LearningTask(models.Model):
    """One task of one incident in one learning status (a template snapshot)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="learning_tasks")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="learning_tasks")
    status = models.ForeignKey(IncidentStatus, on_delete=models.PROTECT, related_name="learning_tasks")
    template = models.ForeignKey(TaskTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    title = models.CharField(max_length=limits.TASK_TITLE)
    instructions = models.TextField(blank=True)
    kind = models.CharField(max_length=32, choices=TaskKind.choices)
    required = models.BooleanField(default=True)
    target_role = models.ForeignKey(IncidentRole, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignee_role = models.ForeignKey(IncidentRole, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="learning_tasks"
    )
    #: Set when a person assigned the task by hand: it no longer follows the role.
    assigned_manually = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=TaskState.choices, default=TaskState.OUTSTANDING)
    not_doing_reason = models.TextField(blank=True)
    addressed_at = models.DateTimeField(null=True, blank=True)
    addressed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    completed_automatically = models.BooleanField(default=False)
    rank = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["rank", "pk"]
        indexes = [
            models.Index(fields=["org", "assignee", "state", "-id"], name="task_assignee_state_id_idx"),
            models.Index(fields=["incident", "status", "state"], name="task_incident_status_idx"),
            models.Index(fields=["org", "state", "-id"], name="task_org_state_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_outstanding(self) -> bool:
        return self.state == TaskState.OUTSTANDING

    @property
    def is_automatic(self) -> bool:
        return self.kind in AUTOMATIC_KINDS


class LearningStatusVisit(models.Model):
    """A learning status an incident has entered. The flow never moves an
    incident into a status it has been in (``learning.services.flow``), also
    after an admin reorders the statuses; the unique pair makes that a rule of
    the table."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="learning_visits")
    status = models.ForeignKey(IncidentStatus, on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "status"], name="learning_visit_once_per_status"),
        ]
