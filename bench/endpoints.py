"""Benchmark-only endpoints and instrumentation (``BENCH_ENDPOINTS=1``).

Not part of the product: ``incidentio/config/urls.py`` includes these routes and
``incidentio/config/settings.py`` installs the middleware only when the setting is on,
so nothing imports this module otherwise and production cannot reach them.

- ``GET /api/v2/bench/ceiling``: a constant JSON body shaped like a page of 25
  incidents, through the same middleware, API-key authentication, permission
  and throttle as every API view, with no query of its own. Every other
  scenario's throughput is reported as a ratio to it, measured in the same run:
  on any machine the ratio says how much of the stack's ceiling the real
  endpoint keeps.
- :class:`QueryCountMiddleware`: with the request header ``X-Bench-Queries``,
  the response carries ``X-Bench-Queries: <n>``, the SQL queries the request
  ran (middleware included; a connection's one-time ``PREPARE`` of a hot
  statement is not a query of the request). Requests without the header are
  not counted.
"""

from __future__ import annotations

import uuid

from django.db import connections
from django.urls import path
from rest_framework.response import Response

from incidentio.api.base import OrgApiView

QUERY_HEADER = "X-Bench-Queries"


def _incident(number: int) -> dict:
    at = "2026-03-14T09:26:53.589793Z"
    return {
        "id": str(uuid.UUID(int=number, version=4)),
        "reference": f"INC-{number}",
        "name": f"Elevated error rate on the checkout API ({number})",
        "summary": "Card payments failed for some customers in eu-west-1 after a configuration push.",
        "incident_status": {"id": str(uuid.UUID(int=1, version=4)), "name": "Closed", "category": "closed"},
        "severity": {"id": str(uuid.UUID(int=2, version=4)), "name": "Major", "rank": 2},
        "learning_flow": "completed",
        "opt_out_reason": "",
        "roles": [{
            "role": {"id": str(uuid.UUID(int=3, version=4)), "name": "Incident Lead", "shortform": "lead"},
            "assignee": {"id": str(uuid.UUID(int=4, version=4)), "name": "Alice Example", "email": "alice@example.com"},
        }],
        "created_at": at, "updated_at": at, "accepted_at": at, "resolved_at": at, "closed_at": at,
        "timestamps": {"impact_started_at": at, "identified_at": at, "fixed_at": at},
        "permalink": f"https://incidents.example.com/acme/incidents/{uuid.UUID(int=number, version=4)}/",
    }


CEILING_BODY = {
    "incidents": [_incident(number) for number in range(100_000, 99_975, -1)],
    "pagination_meta": {"after": "bench-cursor", "page_size": 25, "total_record_count": 100_000},
}


class CeilingView(OrgApiView):
    schema = None  # bench-only: not part of the public API

    def get(self, request):
        return Response(CEILING_BODY)


#: Under ``/api/v2/`` (``incidentio/config/urls.py``), so the API's middleware applies as to every API view.
urlpatterns = [path("bench/ceiling", CeilingView.as_view(), name="bench_ceiling")]


class QueryCountMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if QUERY_HEADER not in request.headers:
            return self.get_response(request)
        count = 0

        def counter(execute, sql, params, many, context):
            nonlocal count
            # A PREPARE sets up the connection (once per statement and
            # connection, incidentio/common/db.py): which gunicorn worker answers must
            # not change a page's count.
            count += not sql.startswith("PREPARE ")
            return execute(sql, params, many, context)

        with connections["default"].execute_wrapper(counter):
            response = self.get_response(request)
        response[QUERY_HEADER] = str(count)
        return response
