"""Incidents as API JSON, read as rows (``values()``) rather than model instances.

The incidents list is the API's busiest read. Through model instances and
DRF's per-field serializers a page of 25 cost ~11 ms of Python on top of its
SQL; from rows it is a fraction of that (docs/performance.md). The JSON is
exactly what :class:`~incidentio.api.serializers.IncidentSerializer`
describes in the schema: tests/api/test_incident_representation.py compares
the two for every shape an incident takes.

Two queries for any number of incidents: the incidents with their status and
severity, then the role assignments of all of them.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db.models import QuerySet

from incidentio.links import incident_url_prefix
from incidentio.models import INCIDENT_TIMESTAMPS, Incident
from incidentio.selectors import role_holders_by_incident

TIMESTAMP_FIELDS = tuple(field for field, _label in INCIDENT_TIMESTAMPS)
ROW_FIELDS = (
    "id", "public_id", "number", "name", "summary", "learning_flow", "opt_out_reason",
    "reported_at", "updated_at", "accepted_at", "resolved_at", "closed_at", *TIMESTAMP_FIELDS,
    "status__public_id", "status__name", "status__category",
    "severity__public_id", "severity__name", "severity__rank",
)


def incident_rows(queryset: QuerySet[Incident]) -> QuerySet:
    """``queryset`` as rows carrying everything :func:`incidents_json` renders."""
    return queryset.values(*dict.fromkeys(ROW_FIELDS))


def iso_datetime(value: dt.datetime | None) -> str | None:
    """A datetime as DRF renders it with ``DATETIME_FORMAT = "iso-8601"``: UTC, ``Z``."""
    if value is None:
        return None
    text = value.astimezone(dt.UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def incidents_json(org, rows: list[dict]) -> list[dict]:
    holders = role_holders_by_incident(org=org, incident_ids=[row["id"] for row in rows]) if rows else {}
    # <SITE_URL>/<org>/incidents/: reversed once per response, not once per incident.
    permalink = settings.SITE_URL.rstrip("/") + incident_url_prefix(org)
    return [
        {
            "id": str(row["public_id"]),
            "reference": f"INC-{row['number']}",
            "name": row["name"],
            "summary": row["summary"],
            "incident_status": {
                "id": str(row["status__public_id"]), "name": row["status__name"], "category": row["status__category"],
            },
            "severity": None if row["severity__public_id"] is None else {
                "id": str(row["severity__public_id"]), "name": row["severity__name"], "rank": row["severity__rank"],
            },
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
            "created_at": iso_datetime(row["reported_at"]),
            "updated_at": iso_datetime(row["updated_at"]),
            "accepted_at": iso_datetime(row["accepted_at"]),
            "resolved_at": iso_datetime(row["resolved_at"]),
            "closed_at": iso_datetime(row["closed_at"]),
            "timestamps": {field: iso_datetime(row[field]) for field in TIMESTAMP_FIELDS},
            "permalink": f"{permalink}{row['public_id']}/",
        }
        for row in rows
    ]
