"""The incident API's JSON: the output shapes the schema describes, and one
input serializer per write endpoint (the fields and helpers they build on are
the API framework's, ``incidentio.api.serializers``)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidentio.api.serializers import (
    Boolean,
    EnumField,
    OrgObjectField,
    PaginationMetaSerializer,
    Text,
    envelope,
    list_envelope,
    member_field,
    user_ref,
)
from incidentio.common import limits
from incidentio.incidents.models import (
    CONFIGURABLE_CATEGORIES,
    INCIDENT_TIMESTAMPS,
    ActorKind,
    EventKind,
    FollowUpPriority,
    FollowUpStatus,
    IncidentStatus,
    IncidentType,
    LearningFlowState,
    PostmortemStatus,
    RoleKind,
    Severity,
    StatusCategory,
    StatusMilestone,
)
from orgs.calendar import is_overdue

# --- Output: configuration ------------------------------------------------------------


class IncidentStatusRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    category = EnumField(StatusCategory.choices, enum_name="StatusCategory")


class IncidentStatusSerializer(IncidentStatusRefSerializer):
    description = serializers.CharField()
    rank = serializers.IntegerField()
    milestone = EnumField(
        StatusMilestone.choices, enum_name="StatusMilestone",
        help_text="The timestamp a live status sets the first time it is entered.",
    )


class SeverityRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    rank = serializers.IntegerField()


class SeveritySerializer(SeverityRefSerializer):
    description = serializers.CharField()


class IncidentTypeRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()


class IncidentTypeSerializer(IncidentTypeRefSerializer):
    description = serializers.CharField()
    is_default = serializers.BooleanField(help_text="Incidents declared without a type get this one.")
    rank = serializers.IntegerField()


class IncidentRoleRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    shortform = serializers.CharField()


class IncidentRoleSerializer(IncidentRoleRefSerializer):
    instructions = serializers.CharField()
    kind = EnumField(RoleKind.choices, enum_name="IncidentRoleKind")
    required = serializers.BooleanField()
    rank = serializers.IntegerField()


class UserSerializer(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True, help_text="Null when the user has left the organization.")
    name = serializers.CharField()
    email = serializers.EmailField()


# --- Output: incidents ---------------------------------------------------------------------


# The incident is never rendered through these fields: incidentio/incidents/api/representation.py
# (incidents_json) builds its JSON from rows, for the list's speed
# (docs/performance.md), and the API and the webhooks send that. These
# serializers only describe it for the schema, which is why they have no
# ``source``s or method fields; tests/api/test_representations.py validates
# the JSON the API and a webhook delivery send against this description,
# unknown and missing keys included, so neither can change alone.


class RoleAssignmentSerializer(serializers.Serializer):
    """Who holds one of the incident's roles."""

    role = IncidentRoleRefSerializer()
    user = UserSerializer(read_only=True)


IncidentTimestampsSerializer = type(
    "IncidentTimestampsSerializer",
    (serializers.Serializer,),
    {field: serializers.DateTimeField(allow_null=True, help_text=label) for field, label in INCIDENT_TIMESTAMPS},
)


class IncidentSerializer(serializers.Serializer):
    """An incident."""

    id = serializers.UUIDField()
    reference = serializers.CharField(help_text="e.g. INC-12; also accepted wherever an incident id is.")
    name = serializers.CharField()
    summary = serializers.CharField()
    incident_status = IncidentStatusRefSerializer()
    severity = SeverityRefSerializer(allow_null=True)
    incident_type = IncidentTypeRefSerializer()
    learning_flow = EnumField(LearningFlowState.choices, enum_name="LearningFlowState")
    opt_out_reason = serializers.CharField(help_text="Why the learning flow was skipped; empty unless opted out.")
    roles = RoleAssignmentSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    resolved_at = serializers.DateTimeField(allow_null=True)
    closed_at = serializers.DateTimeField(allow_null=True)
    timestamps = IncidentTimestampsSerializer()
    permalink = serializers.URLField(read_only=True, help_text="The incident's page in the dashboard.")


class TimelineActorSerializer(serializers.Serializer):
    """Who did it: a member, an API key, a Slack user or the system (user is null unless a member)."""

    # Rendered from a TimelineEvent annotated with ``actor_member_id``.

    kind = EnumField(ActorKind.choices, enum_name="ActorKind", source="actor_kind")
    name = serializers.CharField(source="actor_name")
    user = serializers.SerializerMethodField()

    @extend_schema_field(UserSerializer(allow_null=True))
    def get_user(self, obj) -> dict | None:
        return user_ref(obj.actor_user, obj.actor_member_id)


class TimelineEventSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    kind = EnumField(EventKind.choices, enum_name="TimelineEventKind")
    occurred_at = serializers.DateTimeField()
    text = serializers.CharField()
    actor = TimelineActorSerializer(source="*")


# --- Output: documents -------------------------------------------------------------------


class PostmortemSerializer(serializers.Serializer):
    """An incident's post-mortem document."""

    # Needs postmortem.incident loaded.

    id = serializers.UUIDField(source="public_id")
    incident_id = serializers.UUIDField(source="incident.public_id")
    content = serializers.CharField(help_text="Markdown.")
    status = EnumField(PostmortemStatus.choices, enum_name="PostmortemStatus")
    shared = serializers.BooleanField(source="is_shared")
    shared_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class FollowUpSerializer(serializers.Serializer):
    """Work an incident leaves behind."""

    # Needs incident and assignee loaded, annotated with assignee_member_id: see follow_up_queryset.

    id = serializers.UUIDField(source="public_id")
    incident_id = serializers.UUIDField(source="incident.public_id")
    title = serializers.CharField()
    description = serializers.CharField()
    status = EnumField(FollowUpStatus.choices, enum_name="FollowUpStatus")
    priority = EnumField(FollowUpPriority.choices, enum_name="FollowUpPriority")
    assignee = serializers.SerializerMethodField()
    not_doing_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(allow_null=True)
    snoozed_until = serializers.DateTimeField(allow_null=True, help_text="No reminders about it before then.")
    due_at = serializers.DateTimeField(
        allow_null=True, help_text="When it is due: by the organization's policy for its priority (counted in "
        "business days from the incident's resolution), or as set by hand. Null: no due date."
    )
    due_set_by_hand = serializers.BooleanField(help_text="due_at was set by a person, not by the policy.")
    overdue = serializers.SerializerMethodField(help_text="Outstanding and past its due date.")

    @extend_schema_field(UserSerializer(allow_null=True))
    def get_assignee(self, obj) -> dict | None:
        return user_ref(obj.assignee, obj.assignee_member_id)

    def get_overdue(self, obj) -> bool:
        return obj.status == FollowUpStatus.OUTSTANDING and is_overdue(obj.due_at, timezone.now())


class IncidentsPaginationMetaSerializer(PaginationMetaSerializer):
    total_record_count = serializers.IntegerField(help_text="Incidents matching the filters, on all pages.")


IncidentResponse = envelope("IncidentResponse", incident=IncidentSerializer())
IncidentListResponse = list_envelope(
    "IncidentListResponse", "incidents", IncidentSerializer, IncidentsPaginationMetaSerializer
)
TimelineResponse = list_envelope("TimelineResponse", "timeline_events", TimelineEventSerializer)
IncidentStatusResponse = envelope("IncidentStatusResponse", incident_status=IncidentStatusSerializer())
IncidentStatusListResponse = list_envelope("IncidentStatusListResponse", "incident_statuses", IncidentStatusSerializer)
SeverityResponse = envelope("SeverityResponse", severity=SeveritySerializer())
SeverityListResponse = list_envelope("SeverityListResponse", "severities", SeveritySerializer)
IncidentTypeResponse = envelope("IncidentTypeResponse", incident_type=IncidentTypeSerializer())
IncidentTypeListResponse = list_envelope("IncidentTypeListResponse", "incident_types", IncidentTypeSerializer)
IncidentRoleResponse = envelope("IncidentRoleResponse", incident_role=IncidentRoleSerializer())
IncidentRoleListResponse = list_envelope("IncidentRoleListResponse", "incident_roles", IncidentRoleSerializer)
PostmortemResponse = envelope("PostmortemResponse", postmortem=PostmortemSerializer())
FollowUpResponse = envelope("FollowUpResponse", follow_up=FollowUpSerializer())
FollowUpListResponse = list_envelope("FollowUpListResponse", "follow_ups", FollowUpSerializer)


# --- Input: incidents -------------------------------------------------------------------


class IncidentCreateRequest(serializers.Serializer):
    """Besides ``idempotency_key`` and ``mode``, its fields are ``incident_declare``'s
    parameters, as their ``source`` names them: the view passes them on as they are."""

    name = Text(max_length=limits.INCIDENT_NAME)
    summary = Text(required=False, allow_blank=True, default="", max_length=limits.INCIDENT_SUMMARY,
                   help_text="Markdown.")
    severity_id = OrgObjectField(model=Severity, what="severity", source="severity", required=False, allow_null=True)
    incident_type_id = OrgObjectField(
        model=IncidentType, what="incident type", source="incident_type", required=False, allow_null=True,
        help_text="Omit (or null) for the organization's default type.",
    )
    incident_lead_id = member_field(source="lead", required=False, allow_null=True)
    mode = EnumField(
        [("live", "Live"), ("triage", "Triage")], enum_name="IncidentMode", default="live",
        help_text="live declares a live incident; triage puts it in triage to be accepted or declined.",
    )
    idempotency_key = Text(
        max_length=200,
        help_text="Your unique key for this create: sending it again returns the incident it created "
        "(200 instead of 201) and creates nothing.",
    )


class IncidentEditRequest(serializers.Serializer):
    """Only the fields sent change: they are ``incident_edit``'s parameters, as
    their ``source`` names them, passed on as they are."""

    name = Text(max_length=limits.INCIDENT_NAME, required=False)
    summary = Text(required=False, allow_blank=True, max_length=limits.INCIDENT_SUMMARY)
    severity_id = OrgObjectField(model=Severity, what="severity", source="severity", required=False, allow_null=True)
    status_id = OrgObjectField(
        model=IncidentStatus, what="status", source="status", required=False,
        help_text="A live status; a live incident only (close it with actions/close).",
    )
    incident_type_id = OrgObjectField(
        model=IncidentType, what="incident type", source="incident_type", required=False,
        help_text="Any of the organization's incident types, at any point in the incident's life. "
        "The learning flow it already entered stays.",
    )


class IncidentCloseRequest(serializers.Serializer):
    learning_flow = EnumField(
        [("run", "Run the learning flow"), ("opt_out", "Opt out, with a reason")], enum_name="LearningFlowChoice",
        required=False, allow_null=True, default=None,
        help_text="Omit to let the organization's lifecycle rules decide; required when they ask. "
        "opt_out needs the post_incident_flow_opt_out role.",
    )
    opt_out_reason = Text(required=False, allow_blank=True, default="", max_length=limits.REASON)


# --- Input: configuration ------------------------------------------------------------------


class IncidentStatusCreateRequest(serializers.Serializer):
    name = Text(max_length=limits.CONFIG_NAME)
    category = EnumField(
        [(c.value, c.label) for c in CONFIGURABLE_CATEGORIES], enum_name="ConfigurableStatusCategory"
    )
    description = Text(required=False, allow_blank=True, default="", max_length=limits.CONFIG_TEXT)
    milestone = EnumField(StatusMilestone.choices, enum_name="StatusMilestone", required=False, default="")


class IncidentStatusUpdateRequest(serializers.Serializer):
    """Only the fields sent change."""

    name = Text(max_length=limits.CONFIG_NAME, required=False)
    description = Text(required=False, allow_blank=True, max_length=limits.CONFIG_TEXT)
    milestone = EnumField(StatusMilestone.choices, enum_name="StatusMilestone", required=False)


class SeverityCreateRequest(serializers.Serializer):
    name = Text(max_length=limits.CONFIG_NAME)
    description = Text(required=False, allow_blank=True, default="", max_length=limits.CONFIG_TEXT)


class SeverityUpdateRequest(serializers.Serializer):
    """Only the fields sent change."""

    name = Text(max_length=limits.CONFIG_NAME, required=False)
    description = Text(required=False, allow_blank=True, max_length=limits.CONFIG_TEXT)


class IncidentTypeCreateRequest(serializers.Serializer):
    name = Text(max_length=limits.CONFIG_NAME)
    description = Text(required=False, allow_blank=True, default="", max_length=limits.CONFIG_TEXT)


class IncidentTypeUpdateRequest(serializers.Serializer):
    """Only the fields sent change."""

    name = Text(max_length=limits.CONFIG_NAME, required=False)
    description = Text(required=False, allow_blank=True, max_length=limits.CONFIG_TEXT)


class IncidentRoleCreateRequest(serializers.Serializer):
    name = Text(max_length=limits.CONFIG_NAME)
    shortform = Text(max_length=limits.ROLE_SHORTFORM)
    instructions = Text(required=False, allow_blank=True, default="", max_length=limits.CONFIG_TEXT)
    required = Boolean(required=False, default=False)


class IncidentRoleUpdateRequest(serializers.Serializer):
    """Only the fields sent change."""

    name = Text(max_length=limits.CONFIG_NAME, required=False)
    shortform = Text(max_length=limits.ROLE_SHORTFORM, required=False)
    instructions = Text(required=False, allow_blank=True, max_length=limits.CONFIG_TEXT)
    required = Boolean(required=False)


# --- Input: documents -----------------------------------------------------------------------


class PostmortemCreateRequest(serializers.Serializer):
    content = Text(
        required=False, allow_null=True, allow_blank=True, default=None, max_length=limits.POSTMORTEM,
        help_text="Markdown; omit to start from the post-mortem template.",
    )


class PostmortemUpdateRequest(serializers.Serializer):
    content = Text(allow_blank=True, max_length=limits.POSTMORTEM, help_text="Markdown; replaces the whole document.")


class PostmortemSetStatusRequest(serializers.Serializer):
    status = EnumField(PostmortemStatus.choices, enum_name="PostmortemStatus")


class FollowUpCreateRequest(serializers.Serializer):
    title = Text(max_length=limits.FOLLOW_UP_TITLE)
    description = Text(required=False, allow_blank=True, default="", max_length=limits.FOLLOW_UP_DESCRIPTION)
    assignee_id = member_field(source="assignee", required=False, allow_null=True, default=None)
    priority = EnumField(
        FollowUpPriority.choices, enum_name="FollowUpPriority", default=FollowUpPriority.MEDIUM
    )
    due_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None,
        help_text="Set the due date by hand; omitted or null: the organization's policy for the priority.",
    )
    idempotency_key = Text(
        max_length=200, required=False,
        help_text="Sending the same key again for this incident returns the follow-up it created "
        "(200 instead of 201) and creates nothing.",
    )


class FollowUpUpdateRequest(serializers.Serializer):
    """Only the fields sent change; ``assignee_id: null`` unassigns."""

    title = Text(max_length=limits.FOLLOW_UP_TITLE, required=False)
    description = Text(required=False, allow_blank=True, max_length=limits.FOLLOW_UP_DESCRIPTION)
    assignee_id = member_field(source="assignee", required=False, allow_null=True)
    priority = EnumField(FollowUpPriority.choices, enum_name="FollowUpPriority", required=False)
    due_at = serializers.DateTimeField(
        required=False, allow_null=True,
        help_text="Set the due date by hand; null clears it and returns the follow-up to the organization's "
        "policy for its priority. A new priority re-computes a due date that was not set by hand.",
    )


class FollowUpNotDoingRequest(serializers.Serializer):
    reason = Text(required=False, allow_blank=True, default="", max_length=limits.REASON)
