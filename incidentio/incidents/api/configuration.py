"""API resources: an org's incident statuses, severities, incident roles and incident types.

Any key reads them; creating and updating needs ``manage_settings``. Lists
are keyset-paginated on the primary key (stable while rows are added); each
item carries its ``rank`` for display order.
"""

from __future__ import annotations

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.response import Response

from incidentio.api.base import OrgApiView
from incidentio.api.pagination import PageParams, paginate, pagination_meta
from incidentio.api.serializers import CREATE_ERRORS, LIST_ERRORS, LIST_PARAMETERS, READ_ERRORS, WRITE_ERRORS
from incidentio.common.lookups import get_or_404
from incidentio.incidents.api import serializers as s
from incidentio.incidents.models import IncidentRole, IncidentStatus, IncidentType, Severity
from incidentio.incidents.services import configuration as svc
from orgs.models import ApiKeyRole


class ConfigApiView(OrgApiView):
    """Subclasses name the ``model``, its ``serializer`` and the JSON keys."""

    write_role = ApiKeyRole.MANAGE_SETTINGS
    model: type
    serializer: type
    singular: str
    plural: str
    #: The URL keyword naming the object, e.g. ``status_id``.
    id_kwarg: str

    def get_object(self, object_id: str):
        """The org's object; another org's, a missing one and a malformed id are the same 404."""
        return get_or_404(self.model.objects.filter(org=self.org), self.singular, public_id=object_id)

    def render(self, obj, code: int = status.HTTP_200_OK) -> Response:
        return Response({self.singular: self.serializer(obj).data}, status=code)


class ConfigListView(ConfigApiView):
    def get(self, request):
        params = self.validated(PageParams, request.query_params)
        page = paginate(
            self.model.objects.filter(org=self.org), kind=self.plural, key="pk", descending=False,
            page_size=params["page_size"], after=params.get("after"),
        )
        return Response({self.plural: self.serializer(page.rows, many=True).data,
                         "pagination_meta": pagination_meta(page)})

    def post(self, request):
        data = self.validated(self.create_request, request.data)
        return self.render(self.create(data), status.HTTP_201_CREATED)


class ConfigDetailView(ConfigApiView):
    def get(self, request, **kwargs):
        return self.render(self.get_object(kwargs[self.id_kwarg]))


class ConfigUpdateView(ConfigApiView):
    def post(self, request, **kwargs):
        obj = self.get_object(kwargs[self.id_kwarg])
        data = self.validated(self.update_request, request.data)
        return self.render(self.update(obj, data))


def _schema(resource: str, tag: str, *, list_response, response, create_request=None, update_request=None,
            id_name: str):
    """extend_schema_view decorators for one resource's list/create, show and update views."""
    id_parameter = OpenApiParameter(f"{id_name}_id", OpenApiTypes.UUID, OpenApiParameter.PATH,
                                 description=f"The {id_name}'s id.")
    return {
        "list": extend_schema_view(
            get=extend_schema(operation_id=f"{resource}_list", tags=[tag], parameters=LIST_PARAMETERS,
                              responses={200: list_response, **LIST_ERRORS}),
            post=extend_schema(operation_id=f"{resource}_create", tags=[tag], request=create_request,
                               responses={201: response, **CREATE_ERRORS},
                               description="Needs the manage_settings role."),
        ),
        "detail": extend_schema_view(
            get=extend_schema(operation_id=f"{resource}_show", tags=[tag], parameters=[id_parameter],
                              responses={200: response, **READ_ERRORS}),
        ),
        "update": extend_schema_view(
            post=extend_schema(operation_id=f"{resource}_update", tags=[tag], parameters=[id_parameter],
                               request=update_request, responses={200: response, **WRITE_ERRORS},
                               description="Only the fields sent change. Needs the manage_settings role."),
        ),
    }


# --- Incident statuses ---------------------------------------------------------------------


class _Statuses:
    model = IncidentStatus
    serializer = s.IncidentStatusSerializer
    singular, plural, id_kwarg = "incident_status", "incident_statuses", "status_id"
    create_request = s.IncidentStatusCreateRequest
    update_request = s.IncidentStatusUpdateRequest

    def create(self, data):
        return svc.status_create(org=self.org, **data)

    def update(self, obj, data):
        return svc.status_update(
            status=obj, name=data.get("name", obj.name), description=data.get("description", obj.description),
            milestone=data.get("milestone"),
        )


_status_schema = _schema(
    "incident_statuses", "Incident statuses", list_response=s.IncidentStatusListResponse,
    response=s.IncidentStatusResponse, create_request=s.IncidentStatusCreateRequest,
    update_request=s.IncidentStatusUpdateRequest, id_name="status",
)


@_status_schema["list"]
class StatusListView(_Statuses, ConfigListView):
    """Live and learning statuses can be added; the fixed ones only renamed and described."""


@_status_schema["detail"]
class StatusDetailView(_Statuses, ConfigDetailView):
    pass


@_status_schema["update"]
class StatusUpdateView(_Statuses, ConfigUpdateView):
    pass


# --- Severities -------------------------------------------------------------------------------


class _Severities:
    model = Severity
    serializer = s.SeveritySerializer
    singular, plural, id_kwarg = "severity", "severities", "severity_id"
    create_request = s.SeverityCreateRequest
    update_request = s.SeverityUpdateRequest

    def create(self, data):
        return svc.severity_create(org=self.org, **data)

    def update(self, obj, data):
        return svc.severity_update(
            severity=obj, name=data.get("name", obj.name), description=data.get("description", obj.description)
        )


_severity_schema = _schema(
    "severities", "Severities", list_response=s.SeverityListResponse, response=s.SeverityResponse,
    create_request=s.SeverityCreateRequest, update_request=s.SeverityUpdateRequest, id_name="severity",
)


@_severity_schema["list"]
class SeverityListView(_Severities, ConfigListView):
    """A new severity ranks above the existing ones."""


@_severity_schema["detail"]
class SeverityDetailView(_Severities, ConfigDetailView):
    pass


@_severity_schema["update"]
class SeverityUpdateView(_Severities, ConfigUpdateView):
    pass


# --- Incident roles ------------------------------------------------------------------------------


class _Roles:
    model = IncidentRole
    serializer = s.IncidentRoleSerializer
    singular, plural, id_kwarg = "incident_role", "incident_roles", "role_id"
    create_request = s.IncidentRoleCreateRequest
    update_request = s.IncidentRoleUpdateRequest

    def create(self, data):
        return svc.role_create(org=self.org, **data)

    def update(self, obj, data):
        return svc.role_update(
            role=obj, name=data.get("name", obj.name), shortform=data.get("shortform", obj.shortform),
            instructions=data.get("instructions", obj.instructions), required=data.get("required", obj.required),
        )


_role_schema = _schema(
    "incident_roles", "Incident roles", list_response=s.IncidentRoleListResponse, response=s.IncidentRoleResponse,
    create_request=s.IncidentRoleCreateRequest, update_request=s.IncidentRoleUpdateRequest, id_name="role",
)


@_role_schema["list"]
class RoleListView(_Roles, ConfigListView):
    """New roles are custom roles; the lead and reporter roles are built in."""


@_role_schema["detail"]
class RoleDetailView(_Roles, ConfigDetailView):
    pass


@_role_schema["update"]
class RoleUpdateView(_Roles, ConfigUpdateView):
    pass


# --- Incident types ------------------------------------------------------------------------------


class _IncidentTypes:
    model = IncidentType
    serializer = s.IncidentTypeSerializer
    singular, plural, id_kwarg = "incident_type", "incident_types", "incident_type_id"
    create_request = s.IncidentTypeCreateRequest
    update_request = s.IncidentTypeUpdateRequest

    def create(self, data):
        return svc.incident_type_create(org=self.org, **data)

    def update(self, obj, data):
        return svc.incident_type_update(
            incident_type=obj, name=data.get("name", obj.name),
            description=data.get("description", obj.description),
        )


_type_schema = _schema(
    "incident_types", "Incident types", list_response=s.IncidentTypeListResponse, response=s.IncidentTypeResponse,
    create_request=s.IncidentTypeCreateRequest, update_request=s.IncidentTypeUpdateRequest, id_name="incident_type",
)


@_type_schema["list"]
class IncidentTypeListView(_IncidentTypes, ConfigListView):
    """A new type comes last and is not the default (the dashboard's settings make one the default)."""


@_type_schema["detail"]
class IncidentTypeDetailView(_IncidentTypes, ConfigDetailView):
    pass


@_type_schema["update"]
class IncidentTypeUpdateView(_IncidentTypes, ConfigUpdateView):
    pass


urlpatterns = [
    path("incident_statuses", StatusListView.as_view(), name="incident_statuses"),
    path("incident_statuses/<str:status_id>", StatusDetailView.as_view(), name="incident_status"),
    path("incident_statuses/<str:status_id>/actions/update", StatusUpdateView.as_view(),
         name="incident_status_update"),
    path("severities", SeverityListView.as_view(), name="severities"),
    path("severities/<str:severity_id>", SeverityDetailView.as_view(), name="severity"),
    path("severities/<str:severity_id>/actions/update", SeverityUpdateView.as_view(), name="severity_update"),
    path("incident_roles", RoleListView.as_view(), name="incident_roles"),
    path("incident_roles/<str:role_id>", RoleDetailView.as_view(), name="incident_role"),
    path("incident_roles/<str:role_id>/actions/update", RoleUpdateView.as_view(), name="incident_role_update"),
    path("incident_types", IncidentTypeListView.as_view(), name="incident_types"),
    path("incident_types/<str:incident_type_id>", IncidentTypeDetailView.as_view(), name="incident_type"),
    path("incident_types/<str:incident_type_id>/actions/update", IncidentTypeUpdateView.as_view(),
         name="incident_type_update"),
]
