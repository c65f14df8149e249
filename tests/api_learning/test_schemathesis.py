"""A property-based run of the WHOLE ``/api/v2/`` against its own OpenAPI schema.

Schemathesis loads ``/api/v2/openapi.json`` from the real WSGI application
(``incidentio.config.wsgi.application``: every middleware, DRF, the exception
handler) and sends generated requests, valid and invalid, to every operation
in the schema (every path and method, whatever it is) with a key that holds
every role, in an org seeded with incidents in each learning-flow state,
tasks, a post-mortem and a follow-up. Path ids, id query parameters and id
fields of bodies are sometimes swapped for real ones so the happy paths run
too, and ``PUT /learning_flow`` is sometimes sent the org's real document.

Every response is checked by schemathesis' response checks:

- ``not_a_server_error``: never a 5xx;
- ``status_code_conformance``: the status code is documented for the operation;
- ``content_type_conformance``: the Content-Type is the documented one;
- ``response_headers_conformance``: documented headers are present and valid;
- ``response_schema_conformance``: the body matches the schema for its status.

(``negative_data_rejection`` and ``positive_data_acceptance`` are left out:
the API refuses unknown body fields and ids of other objects with a 422 the
schema cannot express, so they report rule refusals, not faults.)

Examples per operation: ``RELIABILITY_EXAMPLES`` (default 12, about 20 s
with schemathesis' deterministic coverage cases on top); the slow form in
``make reliability`` sets several hundred. The default run is derandomized so
``make test`` sends the same requests every time; the slow form is random and
a failure prints the seed (``--hypothesis-seed=…``) and a curl reproducer.

The requests commit (``transaction=True``): the on-commit work (advancing
the flow, the Slack outbox) runs as in production, with Celery eager. The
rate limit is raised so generated traffic is never throttled.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentRole, IncidentStatus, Severity, StatusCategory
from incidentio.incidents.services.documents import postmortem_create
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningTask
from learning.services.config_document import learning_flow_document
from learning.services.flow import incident_close
from learning.services.tasks import task_complete
from orgs.models import ApiKeyRole, Membership
from orgs.services import api_key_create
from tests.api_learning.conftest import declare_and_close

pytestmark = pytest.mark.django_db(transaction=True)

#: Generated examples per operation (38 operations). 12 → ~1,700 requests with
#: the coverage phase, ~20 s on Postgres; 300 → the slow form.
EXAMPLES_PER_OPERATION = int(os.environ.get("RELIABILITY_EXAMPLES") or 12)
SLOW = "RELIABILITY_EXAMPLES" in os.environ

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def seeded(acme, owner, responder, viewer, globex, outsider, settings):
    """The org the generated requests act in, and the real ids they may use."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "1000000/min"}}
    actor = Actor.for_user(owner)
    live = incident_declare(org=acme, actor=actor, name="Checkout is down", lead=responder,
                            severity=Severity.objects.get(org=acme, name="Major"))
    documenting = declare_and_close(acme, owner, lead=responder, name="Search is slow")
    postmortem_create(incident=documenting, actor=actor)  # completes "Create the post-mortem"
    follow_up = follow_up_create(incident=documenting, actor=actor, title="Add an index", assignee=viewer)
    progressed = declare_and_close(acme, owner, name="Login flaps")
    task_complete(task=LearningTask.objects.filter(incident=progressed).order_by("rank").first(), actor=actor)
    opted_out = incident_declare(org=acme, actor=actor, name="Cert warning")
    incident_close(incident=opted_out, actor=actor, learning_flow="opt_out", opt_out_reason="Renewed itself.")
    theirs = declare_and_close(globex, outsider, name="Another org's incident")
    _key, token = api_key_create(org=acme, name="schemathesis", roles=list(ApiKeyRole.values), created_by=None)
    incidents = [str(i.public_id) for i in (live, documenting, progressed, opted_out, theirs)] + ["INC-1", "INC-2"]
    statuses = [str(s.public_id) for s in IncidentStatus.objects.filter(org=acme)]
    severities = [str(s.public_id) for s in Severity.objects.filter(org=acme)]
    members = [str(m.public_id) for m in Membership.objects.filter(org=acme)] + ["viewer@acme.test"]
    ids = {
        # Path parameters.
        "incident_id": incidents,
        "task_id": [str(t.public_id) for t in LearningTask.objects.all()],
        "follow_up_id": [str(follow_up.public_id)],
        "status_id": statuses,
        "severity_id": severities,
        "role_id": [str(r.public_id) for r in IncidentRole.objects.filter(org=acme)],
        # Query parameters and body fields.
        "assignee_id": members,
        "incident_lead_id": members,
        "learning_status_id": [
            str(s.public_id) for s in IncidentStatus.objects.filter(org=acme, category=StatusCategory.LEARNING)
        ],
        "severity[gte]": severities,
        "auto_enter_min_severity_id": severities,
    }
    lists = {"status[one_of]": statuses}
    return {"headers": {"Authorization": f"Bearer {token}"}, "ids": ids, "lists": lists,
            "learning_flow": learning_flow_document(org=acme)}


def _with_real_ids(values, ids: dict[str, list[str]], lists: dict[str, list[str]]):
    """The generated mapping as it is, or with its known id fields set to real ids."""
    if not isinstance(values, dict):
        return st.just(values)
    known = {name: st.sampled_from(ids[name]) for name in values if name in ids}
    known |= {name: st.lists(st.sampled_from(lists[name]), min_size=1, max_size=3) for name in values if name in lists}
    if not known:
        return st.just(values)
    real = st.fixed_dictionaries({**{k: st.just(v) for k, v in values.items()}, **known})
    return st.one_of(st.just(values), real)


@pytest.fixture
def api_schema(seeded):
    from incidentio.config.wsgi import application

    # Ask for JSON explicitly: without an Accept header drf-spectacular's view
    # answers with its first renderer, YAML, even at ".json".
    schema = schemathesis.openapi.from_wsgi("/api/v2/openapi.json", application,
                                            headers={"Accept": "application/json"})
    ids, lists, document = seeded["ids"], seeded["lists"], seeded["learning_flow"]

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        return _with_real_ids(path_parameters, ids, lists)

    @schema.hook
    def flatmap_query(context, query):
        return _with_real_ids(query, ids, lists)

    @schema.hook
    def flatmap_body(context, body):
        if context.operation is not None and context.operation.label == "PUT /api/v2/learning_flow":
            return st.one_of(st.just(body), st.just(document))
        return _with_real_ids(body, ids, lists)

    return schema


@pytest.fixture(autouse=True)
def _schemathesis_on_pytest_9_2(request):
    # schemathesis 4.32's lazy schemas read and write ``item._nodeid`` to label
    # each operation; pytest 9.2 dropped that attribute (it keeps ``_id``). Give
    # it one to write to: reporting uses the subtest labels either way.
    request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=not SLOW, print_blob=True)
def test_the_api_answers_every_generated_request_within_its_schema(case, seeded):
    case.call_and_validate(headers=seeded["headers"], checks=CHECKS)

