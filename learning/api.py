"""The learning flow in the public API (``/api/v2/``, docs/api.md).

- ``learning_tasks``: every task of the org's incidents, newest first, and the
  actions people take on one (complete, not doing, reopen, assign). The
  services are the ones the dashboard and Slack call; when the last task of a
  learning status is addressed, the incident advances after commit (Celery).
- ``learning_flow``: the whole configuration (the flows and every incident
  type's rules) as one document; PUT replaces it after validating all of it
  (config as code). Version 1, the single-flow document, still works.

Views are thin: parse, resolve through ``self.org``, call one service, render.
"""

from __future__ import annotations

from django.db.models import Q
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response

from incidentio.api.base import OrgApiView
from incidentio.api.errors import error_response
from incidentio.api.pagination import due_filtered, list_kind, paginate, paginate_by_due, pagination_meta
from incidentio.common.errors import ServiceError
from incidentio.incidents.api.documents import FOLLOW_UP_ID, FollowUpApiView
from incidentio.incidents.api.serializers import FollowUpResponse
from learning import api_serializers as s
from learning import selectors
from learning.models import LearningTask, TaskState
from learning.services import reminders, tasks
from learning.services.config_document import (
    LearningFlowDocumentInvalid,
    learning_flow_document,
    learning_flow_replace,
)
from orgs.models import ApiKeyRole

TAG_TASKS = ["Learning tasks"]
TAG_FLOW = ["Learning flow"]


def _render_task(org, task: LearningTask) -> dict:
    # Re-read with its relations: one query, and any after-commit advance is visible.
    return {"learning_task": s.learning_task_json(s.learning_task_queryset(org).get(pk=task.pk))}


class LearningTaskListView(OrgApiView):
    @extend_schema(
        operation_id="learning_tasks_list",
        tags=TAG_TASKS,
        summary="List learning tasks",
        description="Every learning task of the organization's incidents, newest first (or by due date with "
        "`sort=due_at` / `sort=-due_at`, tasks without one last). Keyset-paginated: follow "
        "`pagination_meta.after` until it is null. Filters combine with AND (`overdue=true` for outstanding "
        "tasks past their due date; `due_before`/`due_after` for a window); an unknown or malformed filter "
        "value is a 422 naming the parameter.",
        parameters=[s.LearningTaskListParams],
        responses={200: s.LearningTaskListResponse, **s.error_responses(422)},
    )
    def get(self, request):
        params = self.validated(s.LearningTaskListParams, request.query_params)
        filters = {
            lookup: params[param]
            for param, lookup in (("incident_id", "incident"), ("assignee_id", "assignee"), ("state", "state"),
                                  ("learning_status_id", "status"))
            if param in params
        }
        queryset = due_filtered(
            s.learning_task_queryset(self.org).filter(**filters), params,
            outstanding=Q(state=TaskState.OUTSTANDING), now=timezone.now(),
        )
        kind = list_kind("learning_tasks", request.query_params)
        if "sort" in params:
            page = paginate_by_due(queryset, kind=kind, descending=params["sort"] == "-due_at",
                                   page_size=params["page_size"], after=params.get("after"))
        else:
            page = paginate(queryset, kind=kind, key="id", descending=True,
                            page_size=params["page_size"], after=params.get("after"))
        return Response({
            "learning_tasks": s.learning_tasks_json(page.rows),
            "pagination_meta": pagination_meta(page),
        })


class LearningTaskDetailView(OrgApiView):
    @extend_schema(
        operation_id="learning_tasks_show",
        tags=TAG_TASKS,
        summary="Get a learning task",
        responses={200: s.LearningTaskResponse, **s.error_responses(404)},
    )
    def get(self, request, task_id: str):
        task = selectors.task_get(org=self.org, public_id=task_id)
        return Response(_render_task(self.org, task))


class _TaskActionView(OrgApiView):
    """POST on one task of the org; another org's task is a 404 like a missing one."""

    write_role = ApiKeyRole.INCIDENT_EDITOR

    def task(self, task_id: str) -> LearningTask:
        return selectors.task_get(org=self.org, public_id=task_id)


_ACTION_ERRORS = s.error_responses(400, 404, 415, 422)


class LearningTaskCompleteView(_TaskActionView):
    @extend_schema(
        operation_id="learning_tasks_complete",
        tags=TAG_TASKS,
        summary="Complete a learning task",
        description="Completing it again changes nothing. When every required task of the incident's learning "
        "status is addressed, the incident moves on to the next learning status (or to Closed) shortly after.",
        request=None,
        responses={200: s.LearningTaskResponse, **_ACTION_ERRORS},
    )
    def post(self, request, task_id: str):
        task = tasks.task_complete(task=self.task(task_id), actor=self.actor)
        return Response(_render_task(self.org, task))


class LearningTaskNotDoingView(_TaskActionView):
    @extend_schema(
        operation_id="learning_tasks_not_doing",
        tags=TAG_TASKS,
        summary="Mark a learning task as not doing",
        description="Skip the task, optionally saying why. It counts as addressed.",
        request=s.NotDoingIn,
        responses={200: s.LearningTaskResponse, **_ACTION_ERRORS},
    )
    def post(self, request, task_id: str):
        task = self.task(task_id)
        data = self.validated(s.NotDoingIn, request.data)
        task = tasks.task_not_doing(task=task, actor=self.actor, reason=data["reason"])
        return Response(_render_task(self.org, task))


class LearningTaskReopenView(_TaskActionView):
    @extend_schema(
        operation_id="learning_tasks_reopen",
        tags=TAG_TASKS,
        summary="Reopen a learning task",
        description="Only tasks of the incident's current learning status can be reopened.",
        request=None,
        responses={200: s.LearningTaskResponse, **_ACTION_ERRORS},
    )
    def post(self, request, task_id: str):
        task = tasks.task_reopen(task=self.task(task_id), actor=self.actor)
        return Response(_render_task(self.org, task))


class LearningTaskAssignView(_TaskActionView):
    @extend_schema(
        operation_id="learning_tasks_assign",
        tags=TAG_TASKS,
        summary="Assign a learning task",
        description="Assign an outstanding task to a member, or unassign it with null. A task assigned by hand "
        "no longer follows its role's holder.",
        request=s.AssignIn,
        responses={200: s.LearningTaskResponse, **_ACTION_ERRORS},
    )
    def post(self, request, task_id: str):
        task = self.task(task_id)
        data = self.validated(s.AssignIn, request.data)
        try:
            task = tasks.task_assign(task=task, actor=self.actor, user=data["assignee_id"])
        except ServiceError as exc:
            # The service names its own argument; the API's field is assignee_id.
            raise ServiceError(str(exc), field="assignee_id" if exc.field == "assignee" else exc.field) from None
        return Response(_render_task(self.org, task))


_SNOOZE_DESCRIPTION = ("No reminders about it before `until` (docs/learning-flow.md, \"Reminders and escalation\"); "
                       "when the snooze ends, one reminder says where it stands. Recorded on the incident's timeline "
                       "with the reason. `until` must be in the future and at most 90 days ahead (else a 422, "
                       "nothing changed); an addressed item cannot be snoozed.")


class LearningTaskSnoozeView(_TaskActionView):
    @extend_schema(
        operation_id="learning_tasks_snooze",
        tags=TAG_TASKS,
        summary="Snooze a learning task's reminders",
        description=_SNOOZE_DESCRIPTION,
        request=s.SnoozeIn,
        responses={200: s.LearningTaskResponse, **_ACTION_ERRORS},
    )
    def post(self, request, task_id: str):
        task = self.task(task_id)
        data = self.validated(s.SnoozeIn, request.data)
        task = reminders.reminder_snooze(item=task, actor=self.actor, until=data["until"], reason=data["reason"])
        return Response(_render_task(self.org, task))


class FollowUpSnoozeView(FollowUpApiView):
    write_role = ApiKeyRole.INCIDENT_EDITOR

    @extend_schema(
        operation_id="follow_ups_snooze",
        tags=["Follow-ups"],
        summary="Snooze a follow-up's reminders",
        parameters=[FOLLOW_UP_ID],
        description=_SNOOZE_DESCRIPTION,
        request=s.SnoozeIn,
        responses={200: FollowUpResponse, **_ACTION_ERRORS},
    )
    def post(self, request, follow_up_id: str):
        follow_up = self.get_follow_up(follow_up_id)
        data = self.validated(s.SnoozeIn, request.data)
        reminders.reminder_snooze(item=follow_up, actor=self.actor, until=data["until"], reason=data["reason"])
        return self.render(follow_up)


_FLOW_EXAMPLE = {
    "version": 2,
    "learning_flows": [
        {
            "id": "5d2f7a90-1c3b-4e5f-8a9b-0c1d2e3f4a5b",
            "name": "Default",
            "description": "The flow of every incident type that does not have one of its own.",
            "is_default": True,
            "learning_statuses": [
                {
                    "id": "3f0b7c7e-2a55-4c1e-9d4a-5b0f3d6e8a11",
                    "name": "Documenting",
                    "description": "",
                    "task_templates": [
                        {
                            "id": "b2a8e0c4-6c1d-4f0e-8a77-0e6f1d2c3b44",
                            "title": "Create the post-mortem",
                            "instructions": "Start the post-mortem from the incident page.",
                            "kind": "create_postmortem",
                            "required": True,
                            "default_assignee_role_id": "9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f",
                            "target_role_id": None,
                            "due_days": 5,
                            "due_from": "incident_resolved",
                        }
                    ],
                }
            ],
        },
        {
            "id": "8e9f0a1b-2c3d-4e5f-9a0b-1c2d3e4f5a6b",
            "name": "Security",
            "description": "Security incidents: a review with the security team first.",
            "is_default": False,
            "learning_statuses": [
                {"id": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "name": "Security review", "description": "",
                 "task_templates": []},
                {"id": "3f0b7c7e-2a55-4c1e-9d4a-5b0f3d6e8a11", "name": "Documenting", "description": "",
                 "task_templates": []},
            ],
        },
    ],
    "incident_types": [
        {"id": "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", "learning_flow_id": None, "auto_enter_all": False,
         "auto_enter_min_severity_id": "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d", "otherwise": "ask"},
        {"id": "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "learning_flow_id": "8e9f0a1b-2c3d-4e5f-9a0b-1c2d3e4f5a6b",
         "auto_enter_all": True, "auto_enter_min_severity_id": None, "otherwise": "ask"},
    ],
}


def _document_version(data) -> int:
    """A PUT body without ``version`` is the version-1 document, and is answered in kind."""
    return 1 if isinstance(data, dict) and "version" not in data else 2


class LearningFlowView(OrgApiView):
    """GET the learning flows' configuration; PUT it back (edited) to replace it."""

    write_role = ApiKeyRole.MANAGE_SETTINGS

    @extend_schema(
        operation_id="learning_flow_show",
        tags=TAG_FLOW,
        summary="Get the learning flow configuration",
        description="Every learning flow (the default first), each with its learning statuses in order and their "
        "task templates in order, and the lifecycle rules of every incident type. PUT the same document back "
        "(edited) to change it. `?version=1` returns the single-flow document of before: the default flow and "
        "the default incident type's rules.",
        parameters=[s.LearningFlowParams],
        responses={200: s.LearningFlowDocument, **s.error_responses(422)},
        examples=[OpenApiExample("Two flows", value=_FLOW_EXAMPLE, response_only=True)],
    )
    def get(self, request):
        params = self.validated(s.LearningFlowParams, request.query_params)
        return Response(learning_flow_document(org=self.org, version=params["version"]))

    @extend_schema(
        operation_id="learning_flow_replace",
        tags=TAG_FLOW,
        summary="Replace the learning flow configuration",
        description="Replaces the whole configuration atomically after validating all of it: every problem comes "
        "back in one 422, each with its path in `source.field` (e.g. "
        "`learning_flows[1].learning_statuses[0].task_templates[2].due_days`), and nothing is written unless all "
        "is valid. Flows, statuses and templates are matched by `id`: items without one are created, list order "
        "is the order. A flow left out is deleted, refused while an incident ran it or an incident type not in "
        "the document names it; exactly one flow is the default. A learning status can be in several flows, "
        "with one name; one left out of every flow is kept (delete it in Settings → Statuses). `incident_types` "
        "sets the rules of the types it lists (ids of existing types; types are made in Settings → Incident "
        "types) and leaves the others unchanged; `learning_flow_id` null means the default flow. Unknown fields "
        "are refused. Incidents keep the flow they entered and the tasks they were given. PUTting back an "
        "unchanged GET changes nothing. A body without `version` is the version-1 document (`learning_statuses` "
        "and `lifecycle_rules`: the default flow and the default type's rules; a status it leaves out is "
        "deleted unless another flow has it) and is answered with version 1. Needs the `manage_settings` role.",
        request=s.LearningFlowDocument,
        responses={200: s.LearningFlowDocument, **s.error_responses(400, 415, 422)},
    )
    def put(self, request):
        try:
            learning_flow_replace(org=self.org, document=request.data)
        except LearningFlowDocumentInvalid as exc:
            errors = []
            for error in exc.errors:
                item = {"code": error.code, "message": error.message}
                if error.field:
                    item["source"] = {"field": error.field}
                errors.append(item)
            return error_response(request, 422, errors)
        return Response(learning_flow_document(org=self.org, version=_document_version(request.data)))


task = "learning_tasks/<str:task_id>"

urlpatterns = [
    path("learning_tasks", LearningTaskListView.as_view(), name="learning_tasks"),
    path(task, LearningTaskDetailView.as_view(), name="learning_task"),
    path(f"{task}/actions/complete", LearningTaskCompleteView.as_view(), name="learning_task_complete"),
    path(f"{task}/actions/not_doing", LearningTaskNotDoingView.as_view(), name="learning_task_not_doing"),
    path(f"{task}/actions/reopen", LearningTaskReopenView.as_view(), name="learning_task_reopen"),
    path(f"{task}/actions/assign", LearningTaskAssignView.as_view(), name="learning_task_assign"),
    path(f"{task}/actions/snooze", LearningTaskSnoozeView.as_view(), name="learning_task_snooze"),
    path("follow_ups/<str:follow_up_id>/actions/snooze", FollowUpSnoozeView.as_view(), name="follow_up_snooze"),
    path("learning_flow", LearningFlowView.as_view(), name="learning_flow"),
]
