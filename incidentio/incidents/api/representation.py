"""The incident's one JSON representation, read as rows (``values()``) rather than model instances.

:func:`incidents_json` is the only code that writes an incident as JSON: the
API's list and detail and every webhook payload (webhooks/listeners.py, through
:func:`incident_json`) send what it builds. The OpenAPI schema describes it
(:class:`~incidentio.api.serializers.IncidentSerializer`, a description only);
tests/api/test_representations.py validates what the API and a real webhook
delivery send against that schema, unknown keys refused, for every shape an
incident takes.

The incidents list is the API's busiest read. Through model instances and
DRF's per-field serializers a page of 25 cost ~11 ms of Python on top of its
SQL; from rows it is a fraction of that (docs/performance.md).

The list reads a page in one query of plain SQL (:func:`incident_page_rows`),
role holders included; one incident is read through the ORM
(:func:`incident_rows`) and its role holders in a second query. The list's
filtered count is ``queries.filtered_count``.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from incidentio.common.links import incident_url_prefix
from incidentio.incidents import queries
from incidentio.incidents.models import (
    INCIDENT_TIMESTAMPS,
    Incident,
)
from incidentio.incidents.selectors import role_holders_by_incident, role_holders_of_rows

TIMESTAMP_FIELDS = tuple(field for field, _label in INCIDENT_TIMESTAMPS)
ROW_FIELDS = (
    "id", "public_id", "number", "name", "summary", "learning_flow", "opt_out_reason",
    "reported_at", "updated_at", "accepted_at", "resolved_at", "closed_at", *TIMESTAMP_FIELDS,
    "status__public_id", "status__name", "status__category",
    "severity__public_id", "severity__name", "severity__rank",
    "incident_type__public_id", "incident_type__name",
)


PAGE_FIELDS = tuple(dict.fromkeys(ROW_FIELDS))


def incident_rows(queryset: QuerySet[Incident]) -> QuerySet:
    """``queryset`` as rows carrying everything :func:`incidents_json` renders."""
    return queryset.values(*PAGE_FIELDS)


def incident_json(incident: Incident) -> dict:
    """``incident`` as ``GET /incidents/{id}`` shows it, re-read from the database
    (two queries): what webhook payloads embed. Values as :func:`incidents_json`
    leaves them; ``renderers.as_sent`` turns them into the API's strings."""
    row = incident_rows(Incident.objects.filter(pk=incident.pk)).get()
    return incidents_json(incident.org, [row])[0]


def incident_page_rows(org, *, filters: dict, before: int | None, limit: int) -> list[dict]:
    """Up to ``limit`` of the org's incidents matching ``filters`` (validated API
    filter values by parameter name), newest first, numbered below ``before``:
    rows as :func:`incident_rows` gives them, with their role holders, in one
    prepared statement (``queries.page_rows``)."""
    where, params = queries.api_conditions(filters)
    return queries.page_rows(org, fields=PAGE_FIELDS, where=where, params=params, before=before, limit=limit)


def incidents_json(org, rows: list[dict]) -> list[dict]:
    """The incidents' representation (the schema's ``Incident``), in the rows' order.

    Rows from :func:`incident_page_rows` carry their role holders; others
    (:func:`incident_rows`) have them read in one more query.

    Timestamps and ids stay ``datetime`` and ``UUID``: the API's renderer
    (incidentio/api/renderers.py) writes them as the serializer's fields do,
    in a fraction of the time Python formatting took."""
    if rows and "roles" in rows[0]:
        holders = role_holders_of_rows(rows)
    else:
        holders = role_holders_by_incident(org=org, incident_ids=[row["id"] for row in rows]) if rows else {}
    # <SITE_URL>/<org>/incidents/: reversed once per response, not once per incident.
    permalink = settings.SITE_URL.rstrip("/") + incident_url_prefix(org)
    return [
        {
            "id": row["public_id"],
            "reference": f"INC-{row['number']}",
            "name": row["name"],
            "summary": row["summary"],
            "incident_status": {
                "id": row["status__public_id"], "name": row["status__name"], "category": row["status__category"],
            },
            "severity": None if row["severity__public_id"] is None else {
                "id": row["severity__public_id"], "name": row["severity__name"], "rank": row["severity__rank"],
            },
            "incident_type": {"id": row["incident_type__public_id"], "name": row["incident_type__name"]},
            "learning_flow": row["learning_flow"],
            "opt_out_reason": row["opt_out_reason"],
            "roles": [
                {
                    "role": {"id": str(h["role_id"]), "name": h["role_name"], "shortform": h["shortform"]},
                    "user": {"id": str(h["member_id"]) if h["member_id"] else None, "name": h["name"],
                             "email": h["email"]},
                }
                for h in holders.get(row["id"], [])
            ],
            "created_at": row["reported_at"],
            "updated_at": row["updated_at"],
            "accepted_at": row["accepted_at"],
            "resolved_at": row["resolved_at"],
            "closed_at": row["closed_at"],
            "timestamps": {field: row[field] for field in TIMESTAMP_FIELDS},
            "permalink": f"{permalink}{row['public_id']}/",
        }
        for row in rows
    ]
