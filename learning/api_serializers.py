"""Request and response shapes of the learning-flow API (``learning/api.py``).

Input serializers parse one endpoint's input and resolve ids through the
key's organization (``context["org"]``): another org's object is unknown,
exactly like a missing one. Output serializers render rows and describe them
in the OpenAPI schema. No business rule lives here: the views call the
services in ``learning/services/``.
"""

from __future__ import annotations

import uuid

from django.db.models import QuerySet
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from incidentio.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, DueParams
from incidentio.api.serializers import errors as api_errors
from incidentio.common import limits
from incidentio.incidents.models import Incident, IncidentStatus, StatusCategory
from incidentio.incidents.selectors import incident_lookup
from learning.models import DueFrom, LearningTask, TaskKind, TaskState, UnmatchedPolicy
from learning.services.configuration import MAX_DUE_DAYS
from orgs.calendar import is_overdue
from orgs.models import Membership
from orgs.selectors import member_id_of

# --- Errors (docs/api.md), for the schema: the API's one error schema -----------------------------

error_responses = api_errors


# --- Learning tasks ------------------------------------------------------------------------------


class IncidentRefOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    reference = serializers.CharField(help_text="e.g. INC-12.")
    name = serializers.CharField()


class LearningStatusRefOut(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()


class TaskAssigneeOut(serializers.Serializer):
    id = serializers.UUIDField(allow_null=True, help_text="The user's id in this organization (their membership "
                               "id); null when they have left it.")
    name = serializers.CharField()
    email = serializers.EmailField()


class LearningTaskOut(serializers.Serializer):
    """A learning task."""

    # The task's one representation: the API and the webhooks' learning_task
    # render it through learning_task_json, from learning_task_queryset.

    id = serializers.UUIDField(source="public_id")
    incident = IncidentRefOut()
    learning_status = LearningStatusRefOut(source="status")
    title = serializers.CharField()
    instructions = serializers.CharField(allow_blank=True, help_text="Markdown.")
    kind = serializers.ChoiceField(choices=TaskKind.choices)
    required = serializers.BooleanField(help_text="Optional tasks left open do not hold the incident back.")
    state = serializers.ChoiceField(choices=TaskState.choices)
    not_doing_reason = serializers.CharField(allow_blank=True)
    assignee = serializers.SerializerMethodField()
    assigned_manually = serializers.BooleanField(
        help_text="Assigned by a person: the task no longer follows its role's holder."
    )
    completed_automatically = serializers.BooleanField()
    addressed_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    snoozed_until = serializers.DateTimeField(allow_null=True, help_text="No reminders about it before then.")
    due_at = serializers.DateTimeField(
        allow_null=True, help_text="When it is due, from its template's rule in the organization's business days; "
        "null: no due date."
    )
    overdue = serializers.SerializerMethodField(help_text="Outstanding and past its due date.")

    def get_overdue(self, task) -> bool:
        return task.state == TaskState.OUTSTANDING and is_overdue(task.due_at, self.context["now"])

    @extend_schema_field(TaskAssigneeOut(allow_null=True))
    def get_assignee(self, task) -> dict | None:
        user = task.assignee
        if user is None:
            return None
        member_id = task.assignee_member_id
        return {"id": str(member_id) if member_id else None, "name": user.display_name, "email": user.email}


def learning_task_queryset(org) -> QuerySet[LearningTask]:
    """The tasks of ``org`` (an Organization or its pk) with what :func:`learning_task_json` renders, in one query."""
    return LearningTask.objects.filter(org=org).select_related("incident", "status", "assignee").annotate(
        assignee_member_id=member_id_of(org, "assignee_id")
    )


def learning_tasks_json(tasks: list[LearningTask]) -> list[dict]:
    """Tasks from :func:`learning_task_queryset` as the API shows them; webhook
    payloads embed the same (webhooks/listeners.py).

    One serializer for the whole list (``many=True``): DRF deep-copies a
    serializer's fields when it is built, so building one per task cost a
    page of 25 about 25 ms (docs/performance.md)."""
    return LearningTaskOut(tasks, many=True, context={"now": timezone.now()}).data


def learning_task_json(task: LearningTask) -> dict:
    """One task, as :func:`learning_tasks_json` renders it."""
    return learning_tasks_json([task])[0]


class LearningTaskResponse(serializers.Serializer):
    learning_task = LearningTaskOut()


class PaginationMetaOut(serializers.Serializer):
    after = serializers.CharField(allow_null=True, help_text="Pass as ?after= for the next page; null on the last.")
    page_size = serializers.IntegerField()


class LearningTaskListResponse(serializers.Serializer):
    learning_tasks = LearningTaskOut(many=True)
    pagination_meta = PaginationMetaOut()


def org_incident(org, value: str) -> Incident | None:
    """The org's incident by id or by reference (INC-12), as wherever an incident id is taken."""
    try:
        return incident_lookup(org=org, key=value)
    except Http404:
        return None


def org_member(org, value: str):
    """The user a user id (membership id) or e-mail address names in ``org``, or None.

    Another org's member is nobody here, exactly like someone who never existed.
    """
    value = value.strip()
    members = Membership.objects.filter(org=org).select_related("user")
    if "@" in value:
        member = members.filter(user__email__iexact=value).first()
    else:
        try:
            member = members.filter(public_id=uuid.UUID(value)).first()
        except ValueError:
            member = None
    return member.user if member else None


def org_learning_status(org, value: str) -> IncidentStatus | None:
    try:
        key = uuid.UUID(value)
    except ValueError:
        return None
    return IncidentStatus.objects.filter(org=org, category=StatusCategory.LEARNING, public_id=key).first()


NO_SUCH_MEMBER = "No member of this organization has this user id or e-mail address."


class LearningTaskListParams(DueParams):
    """Query parameters of ``GET /learning_tasks``; ids resolve through ``context["org"]``.

    Every bad parameter is reported at once, each naming itself.
    """

    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE,
                                         default=DEFAULT_PAGE_SIZE)
    after = serializers.CharField(required=False, allow_blank=False,
                                  help_text="The cursor from pagination_meta.after of the previous page.")
    incident_id = serializers.CharField(required=False, allow_blank=False,
                                        help_text="An incident's id, or its reference (e.g. INC-12).")
    assignee_id = serializers.CharField(required=False, allow_blank=False,
                                        help_text="A member's user id (as returned by this API) or e-mail address.")
    state = serializers.ChoiceField(required=False, choices=TaskState.choices)
    learning_status_id = serializers.CharField(required=False, allow_blank=False,
                                               help_text="The id of one of the organization's learning statuses.")

    def validate_incident_id(self, value: str) -> Incident:
        incident = org_incident(self.context["org"], value)
        if incident is None:
            raise serializers.ValidationError("There is no incident with this id in this organization.",
                                              code="not_found")
        return incident

    def validate_assignee_id(self, value: str):
        user = org_member(self.context["org"], value)
        if user is None:
            raise serializers.ValidationError(NO_SUCH_MEMBER, code="not_found")
        return user

    def validate_learning_status_id(self, value: str) -> IncidentStatus:
        status = org_learning_status(self.context["org"], value)
        if status is None:
            raise serializers.ValidationError("There is no learning status with this id in this organization.",
                                              code="not_found")
        return status


class NotDoingIn(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=limits.REASON, default="",
                                   help_text="Why the task is skipped (optional).")


class SnoozeIn(serializers.Serializer):
    until = serializers.DateTimeField(help_text="No reminders before this moment: in the future, at most 90 days "
                                      "ahead. Snoozing again replaces it.")
    reason = serializers.CharField(required=False, allow_blank=True, max_length=limits.REASON, default="",
                                   help_text="Why (optional); shown on the incident's timeline.")


class AssignIn(serializers.Serializer):
    assignee_id = serializers.CharField(allow_null=True, allow_blank=False, max_length=254,
                                        help_text="A member's user id (as returned by this API) or e-mail "
                                        "address; null to unassign.")

    def validate_assignee_id(self, value: str | None):
        if value is None:
            return None
        user = org_member(self.context["org"], value)
        if user is None:
            raise serializers.ValidationError(NO_SUCH_MEMBER, code="not_found")
        return user


# --- Learning flow configuration (config as code) -------------------------------------------------
# These describe the document for the schema; ``learning/services/config_document.py``
# validates it (all of it, naming every faulty field) when it is PUT.


class LearningFlowParams(serializers.Serializer):
    version = serializers.ChoiceField(choices=[1, 2], required=False, default=2,
                                      help_text="2 (default): every flow and incident type. 1: the single-flow "
                                      "document of before (the default flow and the default type's rules).")


class TaskTemplateDoc(serializers.Serializer):
    id = serializers.CharField(required=False, allow_null=True,
                               help_text="Omit (or null) to create a template; keep it to update one.")
    title = serializers.CharField(max_length=limits.TASK_TITLE)
    instructions = serializers.CharField(required=False, allow_blank=True, default="", max_length=limits.CONFIG_TEXT,
                                         help_text="Markdown.")
    kind = serializers.ChoiceField(choices=TaskKind.choices)
    required = serializers.BooleanField(required=False, default=True)
    default_assignee_role_id = serializers.CharField(
        required=False, allow_null=True,
        help_text="The incident role whose holder gets the task; null for nobody. Omitted: the Incident Lead.",
    )
    target_role_id = serializers.CharField(
        required=False, allow_null=True, help_text="For kind assign_role (only): the role that must be assigned."
    )
    due_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_DUE_DAYS,
        help_text="The task is due this many business days after `due_from`; null: no due date. Omitted: "
        "unchanged (null for a new template). Version 2 only.",
    )
    due_from = serializers.ChoiceField(
        choices=DueFrom.choices, required=False,
        help_text="What the days count from. Omitted: unchanged (task_created for a new template). Version 2 only.",
    )


class LearningStatusDoc(serializers.Serializer):
    id = serializers.CharField(required=False, allow_null=True,
                               help_text="Omit (or null) to create a status; keep it to update one. The same "
                               "status may be in several flows, with the same name and description.")
    name = serializers.CharField(max_length=limits.CONFIG_NAME)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=limits.CONFIG_TEXT)
    task_templates = TaskTemplateDoc(many=True, help_text="This flow's templates of the status, in order.")


class LearningFlowItemDoc(serializers.Serializer):
    id = serializers.CharField(required=False, allow_null=True,
                               help_text="Omit (or null) to create a flow; keep it to update one.")
    name = serializers.CharField(max_length=limits.CONFIG_NAME)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=limits.CONFIG_TEXT)
    is_default = serializers.BooleanField(required=False, default=False,
                                          help_text="Exactly one flow is the default: the flow of every incident "
                                          "type that does not name one.")
    learning_statuses = LearningStatusDoc(many=True, help_text="In order.")


class IncidentTypeRulesDoc(serializers.Serializer):
    id = serializers.CharField(help_text="An incident type's id (types are made in Settings → Incident types).")
    learning_flow_id = serializers.CharField(required=False, allow_null=True,
                                             help_text="The flow incidents of this type run; null: the default flow.")
    auto_enter_all = serializers.BooleanField(required=False, default=False,
                                              help_text="Every incident of the type enters the flow when closed.")
    auto_enter_min_severity_id = serializers.CharField(
        required=False, allow_null=True,
        help_text="Incidents at or above this severity enter the flow when closed; null: none do automatically.",
    )
    otherwise = serializers.ChoiceField(choices=UnmatchedPolicy.choices,
                                        help_text="What happens to the other incidents when they are closed.")


class LifecycleRulesDoc(serializers.Serializer):
    auto_enter_min_severity_id = serializers.CharField(
        required=False, allow_null=True,
        help_text="Incidents at or above this severity enter the flow when closed; null: none do automatically.",
    )
    otherwise = serializers.ChoiceField(choices=UnmatchedPolicy.choices,
                                        help_text="What happens to the other incidents when they are closed.")


class LearningFlowDocV1(serializers.Serializer):
    """Version 1: the single-flow document of before (no ``version``): the
    default flow's statuses and the default incident type's rules."""

    learning_statuses = LearningStatusDoc(many=True, help_text="The default flow's statuses, in order. A status "
                                          "left out is deleted unless another flow has it.")
    lifecycle_rules = LifecycleRulesDoc(help_text="The default incident type's rules.")


class LearningFlowDoc(serializers.Serializer):
    """Version 2 of the document (see the operation for version 1)."""

    version = serializers.ChoiceField(choices=[2])
    learning_flows = LearningFlowItemDoc(many=True, help_text="The default first, then by name. Flows left out "
                                         "are deleted.")
    incident_types = IncidentTypeRulesDoc(many=True, help_text="Types left out keep their rules.")


#: What GET returns and PUT takes: version 2, or version 1 (``?version=1``, or a body without ``version``).
LearningFlowDocument = PolymorphicProxySerializer(
    component_name="LearningFlowDocument",
    serializers=[LearningFlowDoc, LearningFlowDocV1],
    resource_type_field_name=None,
)
