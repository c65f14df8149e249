"""API resources: incidents, their lifecycle actions and their timeline.

Every view resolves the incident through the key's organization
(``selectors.incident_lookup``: by id or reference, one 404 for missing and
another org's), parses the body with its own serializer and calls
one service; the services hold every rule.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response

from incidentio.api.base import OrgApiView
from incidentio.api.pagination import PageParams, cursor_value, list_kind, page_of, paginate, pagination_meta
from incidentio.api.serializers import (
    CREATE_ERRORS,
    LIST_ERRORS,
    LIST_PARAMETERS,
    READ_ERRORS,
    WRITE_ERRORS,
    api_field_names,
    errors,
)
from incidentio.incidents import selectors
from incidentio.incidents.api import serializers as s
from incidentio.incidents.api.representation import (
    incident_page_rows,
    incident_rows,
    incidents_json,
)
from incidentio.incidents.filters import API_FILTERS
from incidentio.incidents.models import (
    Incident,
    TimelineEvent,
)
from incidentio.incidents.services import incidents as svc
from learning.services.flow import LearningFlowChoice, incident_close
from orgs.models import ApiKeyRole
from orgs.selectors import member_id_of

INCIDENT_ID = OpenApiParameter(
    "incident_id", OpenApiTypes.STR, OpenApiParameter.PATH,
    description="The incident's id, or its reference such as INC-12.",
)


def created_with(org, idempotency_key: str) -> Incident | None:
    """The incident an earlier create with this idempotency key declared, if any."""
    return Incident.objects.filter(org=org, idempotency_key=idempotency_key).first()


class IncidentApiView(OrgApiView):
    def get_incident(self, incident_id: str) -> Incident:
        return selectors.incident_lookup(org=self.org, key=incident_id)

    def render(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        """Re-read the incident with everything it shows, and render it."""
        return self.render_lookup(str(incident.public_id), code)

    def render_lookup(self, incident_id: str, code: int = status.HTTP_200_OK) -> Response:
        row = selectors.incident_lookup(org=self.org, key=incident_id, queryset=incident_rows(Incident.objects))
        return Response({"incident": incidents_json(self.org, [row])[0]}, status=code)


# --- List ----------------------------------------------------------------------------------


class IncidentListParams(PageParams):
    """``GET /incidents`` query parameters; the names carry their operator.
    The filters are ``filters.API_FILTERS``."""

    def get_fields(self):
        fields = super().get_fields()
        fields.update({f.api: f.values.api_field() for f in API_FILTERS})
        return fields

    def validate(self, attrs):
        org = self.context["org"]
        for f in API_FILTERS:
            if f.api in attrs:
                attrs[f.api] = f.values.api_resolve(org, attrs[f.api], f.api)
        return attrs

    def active_filters(self) -> dict:
        """``{parameter: validated value}`` of the filters given ("?status[one_of]=" filters nothing out)."""
        return {
            f.api: self.validated_data[f.api] for f in API_FILTERS if self.validated_data.get(f.api) not in (None, [])
        }


INCIDENT_FILTERS = [f.values.api_parameter(f.api) for f in API_FILTERS]


class IncidentListCreateView(IncidentApiView):
    @extend_schema(
        operation_id="incidents_list", tags=["Incidents"], parameters=[*LIST_PARAMETERS, *INCIDENT_FILTERS],
        responses={200: s.IncidentListResponse, **LIST_ERRORS},
        description="Newest first. Keyset pagination: pages never shift while incidents are declared.",
    )
    def get(self, request):
        params = IncidentListParams(data=request.query_params, context={"org": self.org})
        params.is_valid(raise_exception=True)
        filters, page_size = params.active_filters(), params.validated_data["page_size"]
        kind = list_kind("incidents", request.query_params)
        rows = incident_page_rows(
            self.org, filters=filters, before=cursor_value(kind, params.validated_data.get("after")),
            limit=page_size + 1,
        )
        page = page_of(rows, kind=kind, key="number", page_size=page_size)
        total = selectors.incident_count(org=self.org, filters=filters)
        return Response({
            "incidents": incidents_json(self.org, page.rows),
            "pagination_meta": pagination_meta(page, total_record_count=total),
        })

    @extend_schema(
        operation_id="incidents_create", tags=["Incidents"], request=s.IncidentCreateRequest,
        responses={201: s.IncidentResponse, 200: s.IncidentResponse, **CREATE_ERRORS},
        description="Declare an incident. 201 when declared; 200 with the same incident when this "
        "idempotency_key was used before.",
    )
    def post(self, request):
        data = self.validated(s.IncidentCreateRequest, request.data)
        # What is left once the key and the mode are taken out is incident_declare's own parameters.
        key = data.pop("idempotency_key")
        triage = data.pop("mode") == "triage"
        existing = created_with(self.org, key)
        if existing is not None:
            return self.render(existing)
        try:
            # The savepoint makes a lost race undo the whole declare (its
            # reference number and its after-commit work included).
            with transaction.atomic(), api_field_names(
                severity="severity_id", lead="incident_lead_id", incident_type="incident_type_id"
            ):
                incident = svc.incident_declare(org=self.org, actor=self.actor, triage=triage, **data)
                Incident.objects.filter(pk=incident.pk).update(idempotency_key=key)
        except IntegrityError:
            # A concurrent request with the same key declared it first.
            existing = created_with(self.org, key)
            if existing is None:
                raise
            return self.render(existing)
        return self.render(incident, status.HTTP_201_CREATED)


# --- One incident ----------------------------------------------------------------------------


class IncidentDetailView(IncidentApiView):
    @extend_schema(
        operation_id="incidents_show", tags=["Incidents"], parameters=[INCIDENT_ID],
        responses={200: s.IncidentResponse, **READ_ERRORS},
    )
    def get(self, request, incident_id):
        return self.render_lookup(incident_id)


class IncidentEditView(IncidentApiView):
    @extend_schema(
        operation_id="incidents_edit", tags=["Incidents"], parameters=[INCIDENT_ID], request=s.IncidentEditRequest,
        responses={200: s.IncidentResponse, **WRITE_ERRORS},
        description="Change the name, summary, severity, (live) status or type; one timeline event per change.",
    )
    def post(self, request, incident_id):
        incident = self.get_incident(incident_id)
        data = self.validated(s.IncidentEditRequest, request.data)
        with api_field_names(severity="severity_id", status="status_id", incident_type="incident_type_id"):
            incident = svc.incident_edit(incident=incident, actor=self.actor, **data)
        return self.render(incident)


class IncidentCloseView(IncidentApiView):
    @extend_schema(
        operation_id="incidents_close", tags=["Incidents"], parameters=[INCIDENT_ID], request=s.IncidentCloseRequest,
        responses={200: s.IncidentResponse, **WRITE_ERRORS},
        description="Close a live incident: run the learning flow, or opt out of it with a reason "
        "(needs the post_incident_flow_opt_out role).",
    )
    def post(self, request, incident_id):
        incident = self.get_incident(incident_id)
        data = self.validated(s.IncidentCloseRequest, request.data)
        if data["learning_flow"] == LearningFlowChoice.OPT_OUT and not self.key.has_role(
            ApiKeyRole.POST_INCIDENT_FLOW_OPT_OUT
        ):
            raise exceptions.PermissionDenied(
                "Opting out of the learning flow needs an API key with the post_incident_flow_opt_out role."
            )
        incident = incident_close(
            incident=incident, actor=self.actor, learning_flow=data["learning_flow"],
            opt_out_reason=data["opt_out_reason"],
        )
        return self.render(incident)


class IncidentTimelineView(IncidentApiView):
    @extend_schema(
        operation_id="incidents_timeline", tags=["Incidents"], parameters=[INCIDENT_ID, *LIST_PARAMETERS],
        responses={200: s.TimelineResponse, **errors(404, 422)},
        description="Everything that happened to the incident, oldest first.",
    )
    def get(self, request, incident_id):
        incident = self.get_incident(incident_id)
        params = self.validated(PageParams, request.query_params)
        events = (
            TimelineEvent.objects.filter(incident=incident)
            .select_related("actor_user")
            .annotate(actor_member_id=member_id_of(self.org, "actor_user_id"))
        )
        page = paginate(
            events, kind=f"timeline:{incident.public_id}", key="pk", descending=False,
            page_size=params["page_size"], after=params.get("after"),
        )
        return Response({
            "timeline_events": s.TimelineEventSerializer(page.rows, many=True).data,
            "pagination_meta": pagination_meta(page),
        })


incident = "incidents/<str:incident_id>"

urlpatterns = [
    path("incidents", IncidentListCreateView.as_view(), name="incidents"),
    path(incident, IncidentDetailView.as_view(), name="incident"),
    path(f"{incident}/actions/edit", IncidentEditView.as_view(), name="incident_edit"),
    path(f"{incident}/actions/close", IncidentCloseView.as_view(), name="incident_close"),
    path(f"{incident}/timeline", IncidentTimelineView.as_view(), name="incident_timeline"),
]
