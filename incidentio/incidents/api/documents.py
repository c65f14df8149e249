"""API resources: an incident's post-mortem and its follow-ups."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import Http404
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response

from incidentio.api.base import OrgApiView
from incidentio.api.pagination import (
    DueParams,
    due_filtered,
    list_kind,
    paginate,
    paginate_by_due,
    pagination_meta,
)
from incidentio.api.serializers import READ_ERRORS, WRITE_ERRORS, api_field_names, errors
from incidentio.common.lookups import get_or_404
from incidentio.incidents import selectors
from incidentio.incidents.api import serializers as s
from incidentio.incidents.api.incidents import INCIDENT_ID
from incidentio.incidents.models import FollowUp, FollowUpStatus, Incident, Postmortem
from incidentio.incidents.services import documents as doc_svc
from incidentio.incidents.services import follow_ups as follow_up_svc
from orgs.selectors import member_id_of

# --- Post-mortems ---------------------------------------------------------------------------


class PostmortemApiView(OrgApiView):
    def get_incident(self, incident_id: str) -> Incident:
        return selectors.incident_lookup(org=self.org, key=incident_id)

    def get_postmortem(self, incident_id: str) -> Postmortem:
        """The incident's post-mortem; no incident and no post-mortem are both 404."""
        incident = self.get_incident(incident_id)
        postmortem = Postmortem.objects.filter(incident=incident).first()
        if postmortem is None:
            raise Http404("This incident has no post-mortem.")
        postmortem.incident = incident
        return postmortem

    def render(self, postmortem: Postmortem, code: int = status.HTTP_200_OK) -> Response:
        return Response({"postmortem": s.PostmortemSerializer(postmortem).data}, status=code)


_postmortem = {"tags": ["Post-mortems"], "parameters": [INCIDENT_ID]}


class PostmortemView(PostmortemApiView):
    @extend_schema(operation_id="postmortems_show", responses={200: s.PostmortemResponse, **READ_ERRORS},
                   description="404 also when the incident has no post-mortem yet.", **_postmortem)
    def get(self, request, incident_id):
        return self.render(self.get_postmortem(incident_id))

    @extend_schema(operation_id="postmortems_create", request=s.PostmortemCreateRequest,
                   responses={201: s.PostmortemResponse, **WRITE_ERRORS},
                   description="An incident has at most one post-mortem; a second create is a 422.", **_postmortem)
    def post(self, request, incident_id):
        incident = self.get_incident(incident_id)
        data = self.validated(s.PostmortemCreateRequest, request.data)
        postmortem = doc_svc.postmortem_create(incident=incident, actor=self.actor, content=data["content"])
        return self.render(postmortem, status.HTTP_201_CREATED)


class PostmortemUpdateView(PostmortemApiView):
    @extend_schema(operation_id="postmortems_update", request=s.PostmortemUpdateRequest,
                   responses={200: s.PostmortemResponse, **WRITE_ERRORS}, **_postmortem)
    def post(self, request, incident_id):
        postmortem = self.get_postmortem(incident_id)
        data = self.validated(s.PostmortemUpdateRequest, request.data)
        return self.render(doc_svc.postmortem_edit(postmortem=postmortem, actor=self.actor, content=data["content"]))


class PostmortemSetStatusView(PostmortemApiView):
    @extend_schema(operation_id="postmortems_set_status", request=s.PostmortemSetStatusRequest,
                   responses={200: s.PostmortemResponse, **WRITE_ERRORS}, **_postmortem)
    def post(self, request, incident_id):
        postmortem = self.get_postmortem(incident_id)
        data = self.validated(s.PostmortemSetStatusRequest, request.data)
        return self.render(
            doc_svc.postmortem_set_status(postmortem=postmortem, actor=self.actor, status=data["status"])
        )


class PostmortemShareView(PostmortemApiView):
    @extend_schema(operation_id="postmortems_share", request=None,
                   responses={200: s.PostmortemResponse, **errors(404)},
                   description="Mark the post-mortem shared with the organization; sharing again changes nothing.",
                   **_postmortem)
    def post(self, request, incident_id):
        postmortem = self.get_postmortem(incident_id)
        return self.render(doc_svc.postmortem_share(postmortem=postmortem, actor=self.actor))


# --- Follow-ups ---------------------------------------------------------------------------------

FOLLOW_UP_ID = OpenApiParameter("follow_up_id", OpenApiTypes.UUID, OpenApiParameter.PATH,
                                description="The follow-up's id.")


def follow_up_queryset(org):
    """The org's follow-ups with what :class:`FollowUpSerializer` renders, in one query."""
    return (
        FollowUp.objects.filter(incident__org=org)
        .select_related("incident", "assignee")
        .annotate(assignee_member_id=member_id_of(org, "assignee_id"))
    )


class FollowUpApiView(OrgApiView):
    def get_follow_up(self, follow_up_id: str) -> FollowUp:
        """Another org's follow-up, a missing one and a malformed id are the same 404."""
        return get_or_404(follow_up_queryset(self.org), "follow-up", public_id=follow_up_id)

    def render(self, follow_up: FollowUp, code: int = status.HTTP_200_OK) -> Response:
        follow_up = self.get_follow_up(str(follow_up.public_id))  # with its assignee's id
        return Response({"follow_up": s.FollowUpSerializer(follow_up).data}, status=code)


class FollowUpListCreateView(FollowUpApiView):
    @extend_schema(operation_id="follow_ups_list", tags=["Follow-ups"], parameters=[INCIDENT_ID, DueParams],
                   responses={200: s.FollowUpListResponse, **errors(404, 422)},
                   description="The incident's follow-ups, oldest first (or by due date with `sort=due_at` / "
                   "`sort=-due_at`, those without one last). `overdue=true`: outstanding and past the due date; "
                   "`due_before`/`due_after`: a window.")
    def get(self, request, incident_id):
        incident = selectors.incident_lookup(org=self.org, key=incident_id)
        params = self.validated(DueParams, request.query_params)
        queryset = due_filtered(
            follow_up_queryset(self.org).filter(incident=incident), params,
            outstanding=Q(status=FollowUpStatus.OUTSTANDING), now=timezone.now(),
        )
        kind = list_kind(f"follow_ups:{incident.public_id}", request.query_params)
        if "sort" in params:
            page = paginate_by_due(queryset, kind=kind, descending=params["sort"] == "-due_at",
                                   page_size=params["page_size"], after=params.get("after"))
        else:
            page = paginate(queryset, kind=kind, key="pk", descending=False,
                            page_size=params["page_size"], after=params.get("after"))
        return Response({"follow_ups": s.FollowUpSerializer(page.rows, many=True).data,
                         "pagination_meta": pagination_meta(page)})

    @extend_schema(operation_id="follow_ups_create", tags=["Follow-ups"], parameters=[INCIDENT_ID],
                   request=s.FollowUpCreateRequest,
                   responses={201: s.FollowUpResponse, 200: s.FollowUpResponse, **WRITE_ERRORS},
                   description="201 when created; 200 with the same follow-up when this idempotency_key "
                   "was used before on this incident.")
    def post(self, request, incident_id):
        incident = selectors.incident_lookup(org=self.org, key=incident_id)
        data = self.validated(s.FollowUpCreateRequest, request.data)
        key = data.pop("idempotency_key", None)
        if key is not None:
            existing = FollowUp.objects.filter(incident=incident, idempotency_key=key).first()
            if existing is not None:
                return self.render(existing)
        try:
            # As for incidents: a lost race undoes the create, after-commit work included.
            with transaction.atomic(), api_field_names(assignee="assignee_id"):
                follow_up = follow_up_svc.follow_up_create(incident=incident, actor=self.actor, **data)
                if key is not None:
                    FollowUp.objects.filter(pk=follow_up.pk).update(idempotency_key=key)
        except IntegrityError:
            existing = FollowUp.objects.filter(incident=incident, idempotency_key=key).first()
            if key is None or existing is None:
                raise
            return self.render(existing)
        return self.render(follow_up, status.HTTP_201_CREATED)


class FollowUpDetailView(FollowUpApiView):
    @extend_schema(operation_id="follow_ups_show", tags=["Follow-ups"], parameters=[FOLLOW_UP_ID],
                   responses={200: s.FollowUpResponse, **READ_ERRORS})
    def get(self, request, follow_up_id):
        return self.render(self.get_follow_up(follow_up_id))


class FollowUpUpdateView(FollowUpApiView):
    @extend_schema(operation_id="follow_ups_update", tags=["Follow-ups"], parameters=[FOLLOW_UP_ID],
                   request=s.FollowUpUpdateRequest, responses={200: s.FollowUpResponse, **WRITE_ERRORS})
    def post(self, request, follow_up_id):
        follow_up = self.get_follow_up(follow_up_id)
        data = self.validated(s.FollowUpUpdateRequest, request.data)
        with api_field_names(assignee="assignee_id"):
            follow_up = follow_up_svc.follow_up_edit(follow_up=follow_up, actor=self.actor, **data)
        return self.render(follow_up)


class FollowUpCompleteView(FollowUpApiView):
    @extend_schema(operation_id="follow_ups_complete", tags=["Follow-ups"], parameters=[FOLLOW_UP_ID],
                   request=None, responses={200: s.FollowUpResponse, **errors(404)})
    def post(self, request, follow_up_id):
        follow_up = self.get_follow_up(follow_up_id)
        return self.render(follow_up_svc.follow_up_complete(follow_up=follow_up, actor=self.actor))


class FollowUpNotDoingView(FollowUpApiView):
    @extend_schema(operation_id="follow_ups_not_doing", tags=["Follow-ups"], parameters=[FOLLOW_UP_ID],
                   request=s.FollowUpNotDoingRequest, responses={200: s.FollowUpResponse, **WRITE_ERRORS})
    def post(self, request, follow_up_id):
        follow_up = self.get_follow_up(follow_up_id)
        data = self.validated(s.FollowUpNotDoingRequest, request.data)
        return self.render(
            follow_up_svc.follow_up_not_doing(follow_up=follow_up, actor=self.actor, reason=data["reason"])
        )


incident = "incidents/<str:incident_id>"
follow_up = "follow_ups/<str:follow_up_id>"

urlpatterns = [
    path(f"{incident}/postmortem", PostmortemView.as_view(), name="postmortem"),
    path(f"{incident}/postmortem/actions/update", PostmortemUpdateView.as_view(), name="postmortem_update"),
    path(f"{incident}/postmortem/actions/set_status", PostmortemSetStatusView.as_view(),
         name="postmortem_set_status"),
    path(f"{incident}/postmortem/actions/share", PostmortemShareView.as_view(), name="postmortem_share"),
    path(f"{incident}/follow_ups", FollowUpListCreateView.as_view(), name="follow_ups"),
    path(follow_up, FollowUpDetailView.as_view(), name="follow_up"),
    path(f"{follow_up}/actions/update", FollowUpUpdateView.as_view(), name="follow_up_update"),
    path(f"{follow_up}/actions/complete", FollowUpCompleteView.as_view(), name="follow_up_complete"),
    path(f"{follow_up}/actions/not_doing", FollowUpNotDoingView.as_view(), name="follow_up_not_doing"),
]
