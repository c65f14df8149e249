"""The API's JSON: shared output shapes, and one input serializer per write endpoint.

Output serializers only render. Input serializers only parse: they check
types and resolve ids *through the key's organization* (``context["org"]``);
every rule about what may change lives in the services the views call.

Ids are opaque strings. A user's id is their membership id in the key's
organization (the id the dashboard's member pages use); it is null for
someone who has since left the organization.
"""

from __future__ import annotations

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_field
from rest_framework import serializers

from incidentio import limits
from incidentio.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from incidentio.errors import ServiceError
from incidentio.models import (
    CONFIGURABLE_CATEGORIES,
    INCIDENT_TIMESTAMPS,
    ActorKind,
    EventKind,
    FollowUpPriority,
    FollowUpStatus,
    IncidentStatus,
    LearningFlowState,
    PostmortemStatus,
    RoleKind,
    Severity,
    StatusCategory,
    StatusMilestone,
)
from orgs.models import Membership
from orgs.selectors import member_id_of  # noqa: F401 - used as s.member_id_of by the API views

# --- Helpers shared by the resource modules ---------------------------------------------


def user_ref(user, member_id) -> dict | None:
    if user is None:
        return None
    return {"id": str(member_id) if member_id else None, "name": user.display_name, "email": user.email}


@contextmanager
def api_field_names(**renames: str):
    """Re-raise a ServiceError naming a service argument (``severity``) with
    the API field the client sent (``severity_id``)."""
    try:
        yield
    except ServiceError as error:
        if error.field in renames:
            raise ServiceError(str(error), field=renames[error.field]) from error
        raise


# --- Input fields ------------------------------------------------------------------------


def _require_string(data) -> None:
    # DRF would take 5 for "5"; the schema promises strings, so a number is a wrong type.
    if not isinstance(data, str):
        raise serializers.ValidationError(f"Expected a string, got {_json_type(data)}.", code="invalid_type")


def _json_type(data) -> str:
    return {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}.get(
        type(data), type(data).__name__
    )


class Text(serializers.CharField):
    """A JSON string the database can store: no NUL (DRF's check) and no lone surrogates."""

    def to_internal_value(self, data):
        _require_string(data)
        value = super().to_internal_value(data)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise serializers.ValidationError("Send valid UTF-8 text.", code="invalid") from None
        return value


class OrgObjectField(serializers.UUIDField):
    """The id of one of the org's statuses, severities or roles → that object.

    Another org's id is "unknown", exactly like one that never existed.
    """

    def __init__(self, *, model, what: str, **kwargs):
        self.model = model
        self.what = what
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        _require_string(data)
        public_id = super().to_internal_value(data)
        found = self.model.objects.filter(org=self.context["org"], public_id=public_id).first()
        if found is None:
            raise serializers.ValidationError(f"Unknown {self.what} in this organization.", code="not_found")
        return found

    def to_representation(self, value):
        return str(value.public_id)


class MemberField(Text):
    """A member of the org, by user id (their membership id) or e-mail address → the User."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data).strip()
        members = Membership.objects.filter(org=self.context["org"]).select_related("user")
        try:
            if len(value) > 254:
                member = None
            elif "@" in value:
                member = members.filter(user__email__iexact=value).first()
            else:
                member = members.filter(public_id=value).first()
        except (DjangoValidationError, ValueError):
            member = None  # not a UUID: as unknown as any other
        if member is None:
            raise serializers.ValidationError(
                "No member of this organization has this user id or e-mail address.", code="not_found"
            )
        return member.user


def _member_field(**kwargs) -> MemberField:
    return MemberField(help_text="A user id (as returned by this API) or the member's e-mail address.", **kwargs)


class OneOfField(serializers.ListField):
    """A ``[one_of]`` filter: repeated (``?f=a&f=b``) or comma-separated (``?f=a,b``)."""

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [data]
        if isinstance(data, (list, tuple)):
            data = [part.strip() for value in data for part in str(value).split(",") if part.strip()]
        try:
            return super().to_internal_value(data)
        except serializers.ValidationError as error:
            # Name the filter itself, not "filter.<index>".
            if isinstance(error.detail, dict):
                raise serializers.ValidationError(
                    [message for messages in error.detail.values() for message in messages]
                ) from None
            raise


class EnumField(serializers.ChoiceField):
    """A choice field that the schema names as its own enum component, ``enum_name``.

    Named here rather than by drf-spectacular's guess from the field name:
    several resources have a ``status`` or a ``kind`` with different values.
    """

    def __init__(self, choices, *, enum_name: str, **kwargs):
        self.enum_name = enum_name
        super().__init__(choices, **kwargs)

    def to_internal_value(self, data):
        _require_string(data)
        return super().to_internal_value(data)


class Boolean(serializers.BooleanField):
    """A JSON true or false; DRF alone would also take "yes", 1 and "on"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            raise serializers.ValidationError(f"Expected true or false, got {_json_type(data)}.",
                                              code="invalid_type")
        return data


class EnumFieldExtension(OpenApiSerializerFieldExtension):
    target_class = EnumField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        field = self.target
        component = ResolvedComponent(
            name=field.enum_name, type=ResolvedComponent.SCHEMA, object=field.enum_name,
            schema={"type": "string", "enum": [str(value) for value in field.choices]},
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


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


# The incident is never rendered through these fields: incidentio/api/incident_rows.py
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

    @extend_schema_field(UserSerializer(allow_null=True))
    def get_assignee(self, obj) -> dict | None:
        return user_ref(obj.assignee, obj.assignee_member_id)


# --- Envelopes (what each endpoint returns) ------------------------------------------


class PaginationMetaSerializer(serializers.Serializer):
    after = serializers.CharField(
        allow_null=True, help_text="Pass as ?after= for the next page; null on the last page."
    )
    page_size = serializers.IntegerField()


class IncidentsPaginationMetaSerializer(PaginationMetaSerializer):
    total_record_count = serializers.IntegerField(help_text="Incidents matching the filters, on all pages.")


def envelope(name: str, **fields) -> type[serializers.Serializer]:
    """A response body ``{"<key>": ...}``, named for the schema."""
    return type(name, (serializers.Serializer,), fields)


def list_envelope(name: str, plural: str, item, meta=PaginationMetaSerializer):
    return envelope(name, **{plural: item(many=True), "pagination_meta": meta()})


IncidentResponse = envelope("IncidentResponse", incident=IncidentSerializer())
IncidentListResponse = list_envelope(
    "IncidentListResponse", "incidents", IncidentSerializer, IncidentsPaginationMetaSerializer
)
TimelineResponse = list_envelope("TimelineResponse", "timeline_events", TimelineEventSerializer)
IncidentStatusResponse = envelope("IncidentStatusResponse", incident_status=IncidentStatusSerializer())
IncidentStatusListResponse = list_envelope("IncidentStatusListResponse", "incident_statuses", IncidentStatusSerializer)
SeverityResponse = envelope("SeverityResponse", severity=SeveritySerializer())
SeverityListResponse = list_envelope("SeverityListResponse", "severities", SeveritySerializer)
IncidentRoleResponse = envelope("IncidentRoleResponse", incident_role=IncidentRoleSerializer())
IncidentRoleListResponse = list_envelope("IncidentRoleListResponse", "incident_roles", IncidentRoleSerializer)
PostmortemResponse = envelope("PostmortemResponse", postmortem=PostmortemSerializer())
FollowUpResponse = envelope("FollowUpResponse", follow_up=FollowUpSerializer())
FollowUpListResponse = list_envelope("FollowUpListResponse", "follow_ups", FollowUpSerializer)


class ErrorSourceSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="The request field at fault, e.g. name or status[one_of].")


class ErrorItemSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    source = ErrorSourceSerializer(required=False)


class ErrorSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="e.g. validation_error, not_found, authorization_error.")
    status = serializers.IntegerField()
    request_id = serializers.CharField(help_text="Also in the X-Request-Id header and the server's log.")
    errors = ErrorItemSerializer(many=True)


_ERROR_DESCRIPTIONS = {
    400: "Malformed JSON.",
    401: "No API key, or one that is not valid or was revoked.",
    403: "The API key's roles do not allow this.",
    404: "No such object in this organization.",
    415: "Send JSON (Content-Type: application/json).",
    422: "A field or parameter is not valid, or a rule refused the change; errors[].source.field names it.",
    429: "Too many requests; retry after the Retry-After header's seconds.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Error responses for ``extend_schema``; 401, 403 and 429 can answer any request."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=_ERROR_DESCRIPTIONS[code])
        for code in sorted({401, 403, 429, *codes})
    }


LIST_PARAMETERS = [
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE,
                                   "default": DEFAULT_PAGE_SIZE}, description="Rows per page: 1 to 250; default 25."),
    OpenApiParameter("after", {"type": "string", "minLength": 1},
                     description="pagination_meta.after of the previous page, as given."),
]

READ_ERRORS = errors(404)
LIST_ERRORS = errors(422)
WRITE_ERRORS = errors(400, 404, 415, 422)
CREATE_ERRORS = errors(400, 415, 422)


# --- Input: incidents -------------------------------------------------------------------


class IncidentCreateRequest(serializers.Serializer):
    name = Text(max_length=limits.INCIDENT_NAME)
    summary = Text(required=False, allow_blank=True, default="", max_length=limits.INCIDENT_SUMMARY,
                   help_text="Markdown.")
    severity_id = OrgObjectField(model=Severity, what="severity", source="severity", required=False, allow_null=True)
    incident_lead_id = _member_field(source="lead", required=False, allow_null=True)
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
    """Only the fields sent change."""

    name = Text(max_length=limits.INCIDENT_NAME, required=False)
    summary = Text(required=False, allow_blank=True, max_length=limits.INCIDENT_SUMMARY)
    severity_id = OrgObjectField(model=Severity, what="severity", source="severity", required=False, allow_null=True)
    status_id = OrgObjectField(
        model=IncidentStatus, what="status", source="status", required=False,
        help_text="A live status; a live incident only (close it with actions/close).",
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
    assignee_id = _member_field(source="assignee", required=False, allow_null=True, default=None)
    priority = EnumField(
        FollowUpPriority.choices, enum_name="FollowUpPriority", default=FollowUpPriority.MEDIUM
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
    assignee_id = _member_field(source="assignee", required=False, allow_null=True)
    priority = EnumField(FollowUpPriority.choices, enum_name="FollowUpPriority", required=False)


class FollowUpNotDoingRequest(serializers.Serializer):
    reason = Text(required=False, allow_blank=True, default="", max_length=limits.REASON)

