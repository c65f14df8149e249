"""The incident JSON built from rows (incidentio/api/incident_rows.py) equals
what DRF builds from IncidentSerializer's declared fields, which is what the
OpenAPI schema describes, for every shape an incident takes."""

from __future__ import annotations

import pytest
from django.db.models import Prefetch
from django.utils import timezone
from rest_framework.renderers import JSONRenderer

from incidentio.actors import Actor
from incidentio.api.incident_rows import incident_rows, incidents_json
from incidentio.api.renderers import FastJSONRenderer
from incidentio.api.serializers import IncidentSerializer
from incidentio.models import Incident, IncidentRole, IncidentRoleAssignment, Severity
from incidentio.services.incidents import incident_assign_role, incident_declare
from learning.services.flow import incident_close
from orgs.models import Membership
from orgs.selectors import member_id_of

pytestmark = pytest.mark.django_db


def _instances(org):
    """The incidents as model instances, loaded the way IncidentSerializer's fields need."""
    assignments = (
        IncidentRoleAssignment.objects.select_related("role", "user")
        .annotate(member_id=member_id_of(org, "user_id")).order_by("role__rank", "role__pk")
    )
    return list(
        Incident.objects.filter(org=org).select_related("status", "severity")
        .prefetch_related(Prefetch("role_assignments", queryset=assignments)).order_by("-number")
    )


def test_the_rows_json_is_drfs(acme, owner, responder, api, api_key):
    actor = Actor.for_user(owner)
    incident_declare(org=acme, actor=actor, name="No severity <b>&</b>", summary="", severity=None, triage=True)
    staffed = incident_declare(org=acme, actor=actor, name="Staffed", summary="**Bold** summary\u2028é",
                               severity=Severity.objects.filter(org=acme).order_by("rank").last())
    for role in IncidentRole.objects.filter(org=acme):
        incident_assign_role(incident=staffed, actor=actor, role=role, user=responder)
    closed = incident_declare(org=acme, actor=actor, name="Closed", severity=Severity.objects.filter(org=acme).first())
    incident_close(incident=closed, actor=actor, learning_flow="opt_out", opt_out_reason="Duplicate of a drill")
    # One timestamp with microseconds, one without: both written as DRF writes them.
    Incident.objects.filter(pk=closed.pk).update(
        identified_at=timezone.now().replace(microsecond=123456), fixed_at=timezone.now().replace(microsecond=0),
    )
    # A role holder who has since left the org: the user stays, the member id is null.
    incident_assign_role(incident=closed, actor=actor, role=IncidentRole.objects.filter(org=acme).first(), user=responder)
    Membership.objects.filter(org=acme, user=responder).delete()

    serializer = IncidentSerializer(context={"org": acme})
    expected = [serializer.to_representation(incident) for incident in _instances(acme)]
    rows = list(incident_rows(Incident.objects.filter(org=acme)).order_by("-number"))
    # The rows keep datetimes and UUIDs for the API's renderer: byte for byte DRF's JSON of the serializer.
    assert FastJSONRenderer().render(incidents_json(acme, rows)) == JSONRenderer().render(expected)
    assert len(expected) == 3
    assert any(role["user"]["id"] is None for item in expected for role in item["roles"])
    assert any(item["severity"] is None for item in expected)

    # Through the API: the list, and one incident by id and by reference.
    client = api(api_key(acme))
    assert client.get("/api/v2/incidents?page_size=25").json()["incidents"] == expected
    assert client.get(f"/api/v2/incidents/{staffed.public_id}").json()["incident"] == expected[1]
    assert client.get("/api/v2/incidents/INC-3").json()["incident"] == expected[0]
