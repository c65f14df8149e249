"""The learning flow (docs/learning-flow.md): what happens after an incident is closed.

An org's learning statuses are its ``learning``-category IncidentStatuses.
A LearningFlow is an ordered choice of them, each with its TaskTemplates;
every incident type runs the org's default flow or one of its own
(``LifecycleRules``). An incident keeps the flow it entered (``LearningRun``),
and when it enters a status the templates are copied into LearningTasks (a
snapshot: later configuration changes do not rewrite in-flight incidents).

Due dates, reminders and digests (the policies) follow the work through:
``FollowUpDueRule``, ``ReminderPolicy`` and ``DigestSchedule``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidentio.common import limits
from incidentio.incidents.models import (
    FollowUpPriority,
    Incident,
    IncidentRole,
    IncidentStatus,
    IncidentType,
    RemindedWork,
    Severity,
)
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


class LearningFlow(models.Model):
    """An ordered list of learning statuses with their task templates."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="learning_flows")
    name = models.CharField(max_length=limits.CONFIG_NAME)
    description = models.TextField(blank=True)
    #: The flow of every incident type that does not name one of its own.
    is_default = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_default", "name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="learning_flow_unique_name_per_org"),
            models.UniqueConstraint(
                fields=["org"], condition=models.Q(is_default=True), name="learning_flow_one_default_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LearningFlowStatus(models.Model):
    """One step of a flow: a learning status, in the flow's order."""

    flow = models.ForeignKey(LearningFlow, on_delete=models.CASCADE, related_name="steps")
    #: A status no incident or task uses may be deleted (``status_delete``); it leaves every flow.
    status = models.ForeignKey(IncidentStatus, on_delete=models.CASCADE, related_name="+")
    rank = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rank", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["flow", "status"], name="learning_flow_status_once"),
        ]


class DueFrom(models.TextChoices):
    TASK_CREATED = "task_created", "after the task is created"
    INCIDENT_RESOLVED = "incident_resolved", "after the incident was resolved"


class TaskTemplate(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="task_templates")
    flow = models.ForeignKey(LearningFlow, on_delete=models.CASCADE, related_name="task_templates")
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
    #: The due rule: the task is due this many business days (``orgs.calendar``)
    #: after ``due_from``; null means no due date.
    due_days = models.PositiveSmallIntegerField(null=True, blank=True)
    due_from = models.CharField(max_length=24, choices=DueFrom.choices, default=DueFrom.TASK_CREATED)
    rank = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rank", "pk"]

    def __str__(self) -> str:
        return self.title


class UnmatchedPolicy(models.TextChoices):
    ASK = "ask", "Ask whoever closes the incident"
    NEVER = "never", "Never run the learning flow"


class LifecycleRules(models.Model):
    """Per incident type: which flow it runs, and when a closed incident enters it."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="lifecycle_rules")
    incident_type = models.OneToOneField(IncidentType, on_delete=models.CASCADE, related_name="lifecycle_rules")
    #: The flow incidents of this type run; null: the org's default flow.
    learning_flow = models.ForeignKey(
        LearningFlow, null=True, blank=True, on_delete=models.SET_NULL, related_name="lifecycle_rules"
    )
    #: Every incident of the type enters the flow when closed, whatever its severity.
    auto_enter_all = models.BooleanField(default=False)
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


class LearningTask(RemindedWork):
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
    #: From the template's due rule when the task was created, or set by a person.
    due_at = models.DateTimeField(null=True, blank=True)
    #: No reminders before this moment (``learning.services.reminders``).
    snoozed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["rank", "pk"]
        indexes = [
            # The reminder sweep and the overdue filters: outstanding tasks by due date.
            models.Index(
                fields=["due_at"], condition=models.Q(state="outstanding", due_at__isnull=False),
                name="task_outstanding_due_idx",
            ),
            # The reminder sweep: the outstanding tasks whose next slot may have come.
            models.Index(
                fields=["next_reminder_at", "id"],
                condition=models.Q(state="outstanding", due_at__isnull=False, next_reminder_at__isnull=False),
                name="task_next_reminder_idx",
            ),
            models.Index(fields=["org", "assignee", "state", "-id"], name="task_assignee_state_id_idx"),
            models.Index(fields=["incident", "status", "state"], name="task_incident_status_idx"),
            models.Index(fields=["org", "state", "-id"], name="task_org_state_idx"),
            # Insights' Tasks panel (docs/insights.md), read index-only: the tasks created in a
            # range with what the charts group them by, and the outstanding ones by due date
            # (measured in docs/performance.md, "Insights").
            models.Index(fields=["org", "created_at"], include=["state", "completed_automatically", "template", "incident"],
                         name="task_org_created_idx"),
            models.Index(fields=["org", "due_at"], include=["assignee", "incident"],
                         condition=models.Q(state="outstanding"), name="task_org_outstanding_due_idx"),
            models.Index(fields=["org", "created_at"], include=["template", "incident"],
                         condition=models.Q(state="not_doing"), name="task_org_not_doing_idx"),
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
    #: When the incident moved on, completed the flow or opted out; NULL while
    #: it is in the status. The flow sets it (``learning.services.flow``).
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "status"], name="learning_visit_once_per_status"),
        ]
        indexes = [
            # The Post-incident page's default order: per status, the incidents
            # in it longest first (learning/post_incident.py).
            models.Index(fields=["status", "entered_at", "incident"], condition=models.Q(left_at__isnull=True),
                         name="learning_visit_current_idx"),
        ]


class LearningRun(models.Model):
    """The flow an incident runs, fixed when it enters: later changes to its
    type or to the type's flow do not move it to another flow."""

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="learning_run")
    flow = models.ForeignKey(LearningFlow, on_delete=models.PROTECT, related_name="runs")
    entered_at = models.DateTimeField(default=timezone.now)


class FollowUpDueRule(models.Model):
    """Follow-ups of a priority are due this many business days after the
    incident was resolved (or after they were created, if that is later)."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="follow_up_due_rules")
    priority = models.CharField(max_length=16, choices=FollowUpPriority.choices)
    due_days = models.PositiveSmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "priority"], name="follow_up_due_rule_once_per_priority"),
        ]


class ReminderPolicy(models.Model):
    """How the owners of work with a due date are reminded, and when it is escalated."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="reminder_policy")
    #: The first reminder, this many hours before the due date; 0: none before.
    remind_before_hours = models.PositiveSmallIntegerField(default=24)
    #: After the due date, remind again every this many days; 0: once, at the due date.
    repeat_every_days = models.PositiveSmallIntegerField(default=2)
    #: After this many days overdue, tell the escalation role's holder too; null: never.
    escalate_after_days = models.PositiveSmallIntegerField(null=True, blank=True, default=5)
    #: Who is told on escalation; null: the incident lead.
    escalate_to_role = models.ForeignKey(
        IncidentRole, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class DigestFrequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class DigestSchedule(models.Model):
    """A scheduled summary of overdue and due-soon work, in the org's time zone."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="digest_schedule")
    enabled = models.BooleanField(default=False)
    frequency = models.CharField(max_length=8, choices=DigestFrequency.choices, default=DigestFrequency.WEEKLY)
    #: For weekly digests, Monday is 0 (``date.weekday()``).
    weekday = models.PositiveSmallIntegerField(default=0)
    #: The hour of the day it is sent, in the org's time zone.
    hour = models.PositiveSmallIntegerField(default=9)
    #: A Slack channel id to post to; blank: none.
    slack_channel = models.CharField(max_length=32, blank=True)
    #: E-mail addresses it is sent to.
    emails = models.JSONField(default=list, blank=True)
    #: The period (``digest_period``: a local date, or an ISO week like
    #: ``2026-W50``) the sweep last took: its digest was queued, or there was
    #: nothing to send. Set under the row lock with the outbox rows, so each
    #: period is taken once (``learning.services.digests``).
    last_period = models.CharField(max_length=16, blank=True)
    #: When that period was taken, and how many items its digest listed (0: nothing was sent).
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_item_count = models.PositiveIntegerField(null=True, blank=True)
