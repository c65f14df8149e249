"""The incident core: lifecycle configuration, incidents, their timeline and
the documents written about them (docs/architecture.md).

Every model here belongs to one Organization, directly or through its
incident, and is addressed from outside by an opaque ``public_id``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from incidentio.common import limits
from incidentio.common.actors import ActorKind
from orgs.models import Organization, User


class StatusCategory(models.TextChoices):
    TRIAGE = "triage", "Triage"
    LIVE = "live", "Live"
    LEARNING = "learning", "Learning"
    CLOSED = "closed", "Closed"
    DECLINED = "declined", "Declined"
    MERGED = "merged", "Merged"
    CANCELED = "canceled", "Canceled"


#: Categories whose statuses an org may add, rename, reorder and delete.
CONFIGURABLE_CATEGORIES = (StatusCategory.LIVE, StatusCategory.LEARNING)
#: Categories in which an incident is finished with.
FINISHED_CATEGORIES = (
    StatusCategory.CLOSED,
    StatusCategory.DECLINED,
    StatusCategory.MERGED,
    StatusCategory.CANCELED,
)
CATEGORY_ORDER = [c.value for c in StatusCategory]


class StatusMilestone(models.TextChoices):
    """A timestamp an incident gets the first time it enters a live status."""

    NONE = "", "—"
    IDENTIFIED = "identified", "Sets “identified”"
    FIXED = "fixed", "Sets “fixed”"


class IncidentStatus(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="incident_statuses")
    name = models.CharField(max_length=limits.CONFIG_NAME)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=16, choices=StatusCategory.choices)
    rank = models.PositiveIntegerField(default=0)
    milestone = models.CharField(max_length=16, choices=StatusMilestone.choices, blank=True, default="")

    class Meta:
        ordering = ["rank", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="status_unique_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_configurable(self) -> bool:
        return self.category in CONFIGURABLE_CATEGORIES


class Severity(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="severities")
    name = models.CharField(max_length=limits.CONFIG_NAME)
    description = models.TextField(blank=True)
    rank = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rank", "pk"]
        verbose_name_plural = "severities"
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="severity_unique_name_per_org"),
        ]

    def __str__(self) -> str:
        return self.name


class RoleKind(models.TextChoices):
    LEAD = "lead", "Lead"
    REPORTER = "reporter", "Reporter"
    CUSTOM = "custom", "Custom"


class IncidentRole(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="incident_roles")
    name = models.CharField(max_length=limits.CONFIG_NAME)
    shortform = models.CharField(max_length=limits.ROLE_SHORTFORM)
    instructions = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=RoleKind.choices, default=RoleKind.CUSTOM)
    required = models.BooleanField(default=False)
    rank = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rank", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="role_unique_name_per_org"),
            models.UniqueConstraint(fields=["org", "shortform"], name="role_unique_shortform_per_org"),
            # One lead role and one reporter role per org: services find them by kind.
            models.UniqueConstraint(
                fields=["org", "kind"],
                condition=~models.Q(kind="custom"),
                name="role_unique_builtin_kind_per_org",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class IncidentType(models.Model):
    """What kind of incident this is ("Default", "Security", "Customer data").

    Every incident has one; exactly one type per org is the default, given to
    incidents declared without a type. The learning flow an incident runs and
    the rules that put it there are chosen per type (``learning.models.LifecycleRules``).
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="incident_types")
    name = models.CharField(max_length=limits.CONFIG_NAME)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    rank = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["rank", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name"], name="incident_type_unique_name_per_org"),
            models.UniqueConstraint(
                fields=["org"], condition=models.Q(is_default=True), name="incident_type_one_default_per_org"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class IncidentCounter(models.Model):
    """The last reference number handed out in an org. Locked to declare."""

    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="incident_counter")
    last_number = models.PositiveIntegerField(default=0)


class LearningFlowState(models.TextChoices):
    NOT_ENTERED = "not_entered", "Not entered"
    RUNNING = "running", "Running"
    OPTED_OUT = "opted_out", "Opted out"
    COMPLETED = "completed", "Completed"


#: Incident timestamps, in the order they normally happen: (field, label).
INCIDENT_TIMESTAMPS = [
    ("reported_at", "Reported"),
    ("accepted_at", "Accepted"),
    ("impact_started_at", "Impact started"),
    ("identified_at", "Identified"),
    ("fixed_at", "Fixed"),
    ("resolved_at", "Resolved"),
    ("closed_at", "Closed"),
]


class Incident(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="incidents")
    number = models.PositiveIntegerField()
    name = models.CharField(max_length=limits.INCIDENT_NAME)
    summary = models.TextField(blank=True)
    status = models.ForeignKey(IncidentStatus, on_delete=models.PROTECT, related_name="incidents")
    severity = models.ForeignKey(
        Severity, null=True, blank=True, on_delete=models.PROTECT, related_name="incidents"
    )
    incident_type = models.ForeignKey(IncidentType, on_delete=models.PROTECT, related_name="incidents")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_incidents"
    )
    slack_channel_id = models.CharField(max_length=32, blank=True)

    learning_flow = models.CharField(
        max_length=16, choices=LearningFlowState.choices, default=LearningFlowState.NOT_ENTERED
    )
    opt_out_reason = models.TextField(blank=True)
    opted_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    reported_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    impact_started_at = models.DateTimeField(null=True, blank=True)
    identified_at = models.DateTimeField(null=True, blank=True)
    fixed_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    #: Bumped by every write of one of its timeline events (``TimelineEvent.save``):
    #: the incident page caches its rendered timeline under this version, so a
    #: new or changed event is a new key and nothing is ever invalidated.
    timeline_version = models.PositiveIntegerField(default=0, db_default=0, editable=False)
    #: The API client's key for the request that created it: a retried create
    #: with the same key returns this incident instead of declaring another.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["org", "number"], name="incident_unique_number_per_org"),
            models.UniqueConstraint(fields=["org", "idempotency_key"], name="incident_unique_idempotency_key"),
        ]
        indexes = [
            # With the id: Insights reads the org's declined, merged and canceled incidents
            # (``insights.filters.scoped_incident_ids_sql``) from the index alone.
            models.Index(fields=["org", "status", "-number"], include=["id"], name="incident_org_status_idx"),
            models.Index(fields=["org", "severity", "-number"], name="incident_org_severity_idx"),
            models.Index(fields=["org", "learning_flow", "-number"], name="incident_org_learning_idx"),
            models.Index(fields=["org", "incident_type", "-number"], name="incident_org_type_idx"),
            # Finished with the learning flow, closed longest ago first: the
            # Post-incident page's "finished" view stops after a page.
            models.Index(fields=["org", "closed_at", "id"], name="incident_org_finished_idx", condition=models.Q(
                learning_flow__in=[LearningFlowState.COMPLETED, LearningFlowState.OPTED_OUT])),
            # Insights reads the incidents reported, or closed, in a range of days
            # (insights/panels/). On the bench org (100,000 incidents, 90 days,
            # America/New_York): incidents declared per week 35 → 10 ms, learning
            # flow outcomes 45 → 7 ms, time in each learning status 54 → 16 ms.
            # With what the charts read included, Postgres answers from the index alone
            # (docs/performance.md, "Insights").
            models.Index(fields=["org", "reported_at"], name="incident_org_reported_idx", include=[
                "status", "severity", "incident_type", "impact_started_at", "identified_at", "fixed_at",
                "resolved_at"]),
            models.Index(fields=["org", "closed_at"], name="incident_org_closed_idx", include=[
                "status", "severity", "incident_type", "learning_flow", "resolved_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.name}"

    @property
    def reference(self) -> str:
        return f"INC-{self.number}"

    @property
    def category(self) -> str:
        return self.status.category

    @property
    def is_live(self) -> bool:
        return self.status.category == StatusCategory.LIVE

    @property
    def is_finished(self) -> bool:
        return self.status.category in FINISHED_CATEGORIES

    def _span(self, start: str, end: str) -> timedelta | None:
        a, b = getattr(self, start), getattr(self, end)
        return b - a if a and b and b >= a else None

    @property
    def duration(self) -> timedelta | None:
        """Impact start (or report) to resolution."""
        return self._span("impact_started_at" if self.impact_started_at else "reported_at", "resolved_at")

    @property
    def time_to_fix(self) -> timedelta | None:
        return self._span("reported_at", "fixed_at")

    @property
    def time_to_identify(self) -> timedelta | None:
        return self._span("reported_at", "identified_at")


class IncidentRoleAssignment(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.ForeignKey(IncidentRole, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "role"], name="one_assignee_per_role"),
        ]
        indexes = [models.Index(fields=["user", "role"])]


ACTOR_KIND_LABELS = dict(ActorKind.choices)


class EventKind(models.TextChoices):
    DECLARED = "declared", "Incident declared"
    ACCEPTED = "accepted", "Incident accepted"
    DECLINED = "declined", "Incident declined"
    MERGED = "merged", "Incident merged"
    RENAMED = "renamed", "Incident renamed"
    SUMMARY_UPDATED = "summary_updated", "Summary updated"
    STATUS_CHANGED = "status_changed", "Status changed"
    SEVERITY_CHANGED = "severity_changed", "Severity changed"
    ROLE_ASSIGNED = "role_assigned", "Role assigned"
    ROLE_UNASSIGNED = "role_unassigned", "Role unassigned"
    UPDATE_POSTED = "update_posted", "Update"
    TIMESTAMPS_UPDATED = "timestamps_updated", "Timestamps updated"
    CLOSED = "closed", "Incident closed"
    POSTMORTEM_CREATED = "postmortem_created", "Post-mortem created"
    POSTMORTEM_STATUS_CHANGED = "postmortem_status_changed", "Post-mortem status changed"
    POSTMORTEM_SHARED = "postmortem_shared", "Post-mortem shared"
    DEBRIEF_SCHEDULED = "debrief_scheduled", "Debrief scheduled"
    FOLLOW_UP_CREATED = "follow_up_created", "Follow-up created"
    FOLLOW_UP_UPDATED = "follow_up_updated", "Follow-up updated"
    FOLLOW_UP_COMPLETED = "follow_up_completed", "Follow-up completed"
    FOLLOW_UP_NOT_DOING = "follow_up_not_doing", "Follow-up marked not doing"
    LEARNING_FLOW_ENTERED = "learning_flow_entered", "Learning flow started"
    LEARNING_STATUS_CHANGED = "learning_status_changed", "Learning status changed"
    LEARNING_FLOW_OPTED_OUT = "learning_flow_opted_out", "Opted out of the learning flow"
    LEARNING_FLOW_COMPLETED = "learning_flow_completed", "Learning flow completed"
    TASK_COMPLETED = "task_completed", "Task completed"
    TASK_NOT_DOING = "task_not_doing", "Task marked not doing"
    TASK_REOPENED = "task_reopened", "Task reopened"
    TASK_ASSIGNED = "task_assigned", "Task assigned"
    TYPE_CHANGED = "type_changed", "Incident type changed"
    REMINDER_SNOOZED = "reminder_snoozed", "Reminder snoozed"
    OVERDUE_ESCALATED = "overdue_escalated", "Overdue work escalated"


EVENT_KIND_LABELS = dict(EventKind.choices)
#: Events whose text is markdown written by a person.
MARKDOWN_EVENT_KINDS = frozenset({EventKind.UPDATE_POSTED, EventKind.SUMMARY_UPDATED})


class TimelineEvent(models.Model):
    """Append-only: rows are created by services and never updated or deleted."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: What to call the actor when it is not a user here (an API key's name, a Slack name).
    actor_label = models.CharField(max_length=200, blank=True)
    #: A stable identifier of a non-user actor (API key id, Slack user id).
    actor_ref = models.CharField(max_length=64, blank=True)
    #: Human-readable text of the event (markdown for updates); ``data`` holds the facts.
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    #: A permalink to the Slack message this event came from or went to.
    slack_permalink = models.URLField(blank=True)

    class Meta:
        ordering = ["occurred_at", "pk"]
        indexes = [models.Index(fields=["incident", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.incident_id})"

    def save(self, *args, **kwargs):
        """Also moves the incident's ``timeline_version`` on, in the same
        transaction and after the event's own write: a page that reads the new
        version then reads the event too. Every event comes through here
        (``services.timeline.timeline_record``, and Slack's permalink, the one
        update); ``bulk_create`` does not, so it is for tests and bench data."""
        if self.pk is not None and not kwargs.pop("allow_update", False):
            raise ValueError("Timeline events are append-only.")
        super().save(*args, **kwargs)
        Incident.objects.filter(pk=self.incident_id).update(timeline_version=models.F("timeline_version") + 1)

    @property
    def actor_name(self) -> str:
        user = self.actor_user if self.actor_kind == ActorKind.USER else None
        return self.actor_name_of(self.actor_kind, self.actor_label, user.name if user else None,
                                  user.email if user else None)

    @staticmethod
    def actor_name_of(actor_kind: str, actor_label: str, user_name: str | None, user_email: str | None) -> str:
        """Who did it, for rows read without instances (``user_*`` of ``actor_user``, None without one)."""
        if actor_kind == ActorKind.USER and user_email is not None:
            return User.display_name_of(user_name, user_email)
        if actor_kind == ActorKind.SYSTEM:
            return "incidentio"
        return actor_label or ACTOR_KIND_LABELS.get(actor_kind, actor_kind)


class PostmortemStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    COMPLETED = "completed", "Completed"


class Postmortem(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="postmortem")
    content = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=PostmortemStatus.choices, default=PostmortemStatus.DRAFT)
    shared_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    @property
    def is_shared(self) -> bool:
        return self.shared_at is not None


class Debrief(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="debriefs")
    scheduled_at = models.DateTimeField()
    duration_minutes = models.PositiveIntegerField(default=60)
    location = models.CharField(max_length=limits.DEBRIEF_LOCATION, blank=True, help_text="A room or a video-call link.")
    attendees = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scheduled_at"]

    @property
    def ends_at(self):
        return self.scheduled_at + timedelta(minutes=self.duration_minutes)


class FollowUpStatus(models.TextChoices):
    OUTSTANDING = "outstanding", "Outstanding"
    COMPLETED = "completed", "Completed"
    NOT_DOING = "not_doing", "Not doing"


class FollowUpPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


#: Earlier than any sweep's clock (also one stepping through time in a test).
LOOK_AT_NEXT_SWEEP = datetime(1970, 1, 1, tzinfo=UTC)


class RemindedWork(models.Model):
    """Work with a due date that the reminder sweep follows (``learning.services.reminders``):
    follow-ups here, learning tasks in the learning app."""

    #: The sweep need not look at the item before this moment: its next reminder slot or the
    #: end of its snooze, as the last sweep that looked at it worked out; NULL once no slot is
    #: left. A new row, and saving a due date or a snooze, set it to ``LOOK_AT_NEXT_SWEEP``:
    #: the next sweep works it out again. (An ``update()`` of ``due_at`` or ``snoozed_until``
    #: must set it too.)
    next_reminder_at = models.DateTimeField(null=True, blank=True, db_default=LOOK_AT_NEXT_SWEEP, editable=False)

    REMINDER_INPUTS = frozenset({"due_at", "snoozed_until"})

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        fields = kwargs.get("update_fields")
        if fields is None or self.REMINDER_INPUTS.intersection(fields):
            self.next_reminder_at = LOOK_AT_NEXT_SWEEP
            if fields is not None:
                kwargs["update_fields"] = {*fields, "next_reminder_at"}
        super().save(*args, **kwargs)


class FollowUp(RemindedWork):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    #: Always the incident's org (``save`` fills it in): Insights counts an org's
    #: follow-ups from their own indexes, without reading every incident of the org.
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="follow_ups")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="follow_ups")
    title = models.CharField(max_length=limits.FOLLOW_UP_TITLE)
    description = models.TextField(blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=16, choices=FollowUpStatus.choices, default=FollowUpStatus.OUTSTANDING)
    priority = models.CharField(max_length=16, choices=FollowUpPriority.choices, default=FollowUpPriority.MEDIUM)
    not_doing_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    #: When it should be done: from the org's due rule for its priority
    #: (``learning.models.FollowUpDueRule``) unless a person set it by hand.
    due_at = models.DateTimeField(null=True, blank=True)
    due_set_by_hand = models.BooleanField(default=False, db_default=False)
    #: No reminders before this moment (``learning.services.reminders``).
    snoozed_until = models.DateTimeField(null=True, blank=True)
    #: As on Incident: a retried API create with the same key returns this follow-up.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, editable=False)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "idempotency_key"], name="follow_up_unique_idempotency_key"),
        ]
        indexes = [
            # The reminder sweep and the overdue filters: outstanding follow-ups by due date.
            models.Index(
                fields=["due_at"], condition=models.Q(status="outstanding", due_at__isnull=False),
                name="follow_up_outstanding_due_idx",
            ),
            # The reminder sweep: the outstanding follow-ups whose next slot may have come.
            models.Index(
                fields=["next_reminder_at", "id"],
                condition=models.Q(status="outstanding", due_at__isnull=False, next_reminder_at__isnull=False),
                name="follow_up_next_reminder_idx",
            ),
            # Insights (insights/panels/follow_ups.py), read index-only: the org's open
            # follow-ups by age, and those created or completed in a range.
            models.Index(fields=["org", "created_at"], include=["priority", "incident"],
                         condition=models.Q(status="outstanding"), name="follow_up_org_open_idx"),
            models.Index(fields=["org", "created_at"], include=["incident"], name="follow_up_org_created_idx"),
            models.Index(fields=["org", "completed_at"], include=["due_at", "incident"],
                         condition=models.Q(status="completed"), name="follow_up_org_completed_idx"),
        ]

    def save(self, *args, **kwargs):
        if self.org_id is None and self.incident_id is not None:
            self.org_id = self.incident.org_id
        super().save(*args, **kwargs)
