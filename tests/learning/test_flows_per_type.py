"""A learning flow per incident type, end to end.

Security incidents always run the Security flow ("Security review", then
"Documenting" with the Security flow's own task); Default incidents keep the
Default flow (Critical and above enter, the others are asked). Closed through
the dashboard and the API here (Slack: tests/slack/test_learning_flow_per_type.py);
then the snapshot rule: changing the incident's type or editing its flow after
it entered changes neither its flow nor the tasks it was given.
"""

from __future__ import annotations

import pytest

from incidentio.common.errors import ServiceError
from incidentio.incidents.models import Incident, IncidentStatus, IncidentType, LearningFlowState, Severity
from learning.models import LearningRun, LearningTask, TaskTemplate, UnmatchedPolicy
from learning.selectors import default_flow
from learning.services import configuration
from learning.services.flow import learning_advance
from learning.services.rules import FlowDecision, decide
from tests.learning.security_flow import REPORT_TASK, REVIEW_TASK, declare_security, make_security
from tests.learning.test_flow_engine_gaps import declare, editor_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """The advance after the last task runs on commit, here and now."""


@pytest.fixture
def security(acme):
    return make_security(acme)


@pytest.fixture
def as_owner(owner, acme, signed_in):
    return signed_in(owner, acme)


def fresh(incident) -> Incident:
    return Incident.objects.select_related("status").get(pk=incident.pk)


def tasks(incident) -> list[tuple[str, str]]:
    return list(LearningTask.objects.filter(incident=incident).order_by("pk").values_list("status__name", "title"))


def _complete_on_dashboard(client, incident, commit):
    for task in LearningTask.objects.filter(incident=incident, status_id=fresh(incident).status_id,
                                            state="outstanding"):
        response = commit(client.post, f"/acme/incidents/{incident.public_id}/tasks/{task.public_id}/complete/")
        assert response.status_code == 302, response.content


def test_a_security_incident_closed_on_the_dashboard_runs_the_security_flow(
    acme, owner, as_owner, security, commit
):
    incident = declare_security(acme, owner, security)  # Minor: the Default type would ask

    response = commit(as_owner.post, f"/acme/incidents/{incident.public_id}/close/", {"learning_flow": ""})

    assert response.status_code == 302, response.content
    page = as_owner.get(f"/acme/incidents/{incident.public_id}/").content.decode()
    assert "The learning flow starts with Security review." in page
    assert fresh(incident).status.name == "Security review"
    assert tasks(incident) == [("Security review", REVIEW_TASK)]
    assert LearningRun.objects.get(incident=incident).flow == security.flow

    _complete_on_dashboard(as_owner, incident, commit)
    assert fresh(incident).status.name == "Documenting"
    # The Security flow's Documenting task, not the Default flow's four.
    assert tasks(incident) == [("Security review", REVIEW_TASK), ("Documenting", REPORT_TASK)]

    _complete_on_dashboard(as_owner, incident, commit)
    assert fresh(incident).learning_flow == LearningFlowState.COMPLETED
    assert fresh(incident).status.category == "closed"


def test_a_security_incident_closed_through_the_api_runs_the_security_flow_and_default_is_asked(
    acme, owner, security, commit
):
    api = editor_of(acme)
    ours = declare_security(acme, owner, security)
    default = declare(acme, owner, "Minor")

    closed = commit(api.close, ours)
    asked = api.close(default)

    assert closed.status_code == 200, closed.content
    assert closed.json()["incident"]["incident_status"]["name"] == "Security review"
    assert [t["title"] for t in api.tasks(ours)] == [REVIEW_TASK]
    assert asked.status_code == 422  # the Default type's rules: Minor is asked
    run = commit(api.close, default, learning_flow="run")
    assert run.json()["incident"]["incident_status"]["name"] == "Documenting"
    assert LearningRun.objects.get(incident=default).flow == default_flow(org=acme)
    assert len(api.tasks(default)) == TaskTemplate.objects.filter(
        flow=default_flow(org=acme), status__name="Documenting").count() == 4


SNAPSHOT = ("pk", "status_id", "template_id", "title", "instructions", "kind", "required", "assignee_id", "rank")


def _given(incident) -> list[tuple]:
    return list(LearningTask.objects.filter(incident=incident).order_by("pk").values_list(*SNAPSHOT))


def test_changing_the_type_after_entry_changes_neither_the_flow_nor_the_tasks(acme, owner, security, commit):
    api = editor_of(acme)
    incident = declare_security(acme, owner, security)
    commit(api.close, incident)
    given = _given(incident)
    # Its type changes to Default, whose rules name the Default flow (the type
    # is changed by the incident types' service; the column is what the flow reads).
    Incident.objects.filter(pk=incident.pk).update(incident_type=IncidentType.objects.get(org=acme, is_default=True))

    for task in api.tasks(incident):
        assert commit(api.post, f"learning_tasks/{task['id']}/actions/complete").status_code == 200

    assert _given(incident)[: len(given)] == given
    assert LearningRun.objects.get(incident=incident).flow == security.flow
    # It carries on in the Security flow: its Documenting task, not the Default flow's.
    assert api.incident(incident)["incident_status"]["name"] == "Documenting"
    assert [t["title"] for t in api.tasks(incident)] == [REPORT_TASK, REVIEW_TASK]


def test_editing_the_flow_after_entry_keeps_the_tasks_given_and_the_flow_cannot_be_deleted(
    acme, owner, security, commit
):
    api = editor_of(acme)
    incident = declare_security(acme, owner, security)
    commit(api.close, incident)
    given = _given(incident)
    template = TaskTemplate.objects.get(flow=security.flow, title=REVIEW_TASK)

    configuration.template_update(template=template, title="Revoke every token", kind=template.kind,
                                  instructions="New words.", due_days=None)
    configuration.template_create(org=acme, flow=security.flow, status=security.review, title="Tell legal")
    configuration.flow_update(flow=security.flow, name="Security and privacy")
    configuration.rules_update(org=acme, incident_type=security.incident_type, learning_flow=None,
                               auto_enter_min_severity=None, otherwise=UnmatchedPolicy.ASK)
    with pytest.raises(ServiceError, match="an incident keeps the flow it started with"):
        configuration.flow_delete(flow=security.flow)

    assert _given(incident) == given
    assert [t["title"] for t in api.tasks(incident)] == [REVIEW_TASK]
    assert LearningRun.objects.get(incident=incident).flow_id == security.flow.pk


def test_taking_the_current_status_out_of_the_flow_moves_the_incident_on_after_where_it_was(
    acme, owner, security, commit
):
    """The Security flow gets "Legal" last; an incident goes through Security
    review into Documenting. An admin then adds "Scoping" first and takes
    Documenting out: the incident finishes its tasks there and carries on after
    the last step it was in that is still in the flow (Security review), to
    Legal, never back to Scoping, ordered before it."""
    api = editor_of(acme)
    legal = configuration.flow_status_create(flow=security.flow, name="Legal")
    configuration.template_create(org=acme, flow=security.flow, status=legal, title="Tell legal")
    incident = declare_security(acme, owner, security)
    commit(api.close, incident)
    [review] = api.tasks(incident)
    commit(api.post, f"learning_tasks/{review['id']}/actions/complete")
    assert api.incident(incident)["incident_status"]["name"] == "Documenting"

    scoping = configuration.flow_status_create(flow=security.flow, name="Scoping")
    configuration.template_create(org=acme, flow=security.flow, status=scoping, title="Scope it")
    for _ in range(3):
        configuration.flow_status_move(flow=security.flow, status=scoping, direction="up")
    configuration.flow_status_remove(flow=security.flow, status=security.documenting)
    [report] = [t for t in api.tasks(incident) if t["title"] == REPORT_TASK]
    assert commit(api.post, f"learning_tasks/{report['id']}/actions/complete").status_code == 200

    assert api.incident(incident)["incident_status"]["name"] == "Legal"
    assert sorted(t["title"] for t in api.tasks(incident)) == sorted([REVIEW_TASK, REPORT_TASK, "Tell legal"])


def test_taking_the_only_status_it_visited_out_moves_it_to_the_flows_first_status(acme, owner, security, commit):
    """Security review, the one status the incident has been in, leaves the
    flow (now Documenting, Legal): it carries on with the flow's first status."""
    api = editor_of(acme)
    legal = configuration.flow_status_create(flow=security.flow, name="Legal")
    configuration.template_create(org=acme, flow=security.flow, status=legal, title="Tell legal")
    incident = declare_security(acme, owner, security)
    commit(api.close, incident)
    configuration.flow_status_remove(flow=security.flow, status=security.review)

    [task] = api.tasks(incident)
    assert commit(api.post, f"learning_tasks/{task['id']}/actions/complete").status_code == 200

    assert api.incident(incident)["incident_status"]["name"] == "Documenting"


def test_after_a_reorder_it_moves_to_the_status_after_its_current_one(acme, owner, security, commit):
    """Security review → Documenting → Legal → Comms; in Documenting, an admin
    moves Security review after Legal: next comes Legal (after Documenting in
    the new order), not Comms (after the last status it visited)."""
    api = editor_of(acme)
    for name in ("Legal", "Comms"):
        status = configuration.flow_status_create(flow=security.flow, name=name)
        configuration.template_create(org=acme, flow=security.flow, status=status, title=f"Tell {name.lower()}")
    incident = declare_security(acme, owner, security)
    commit(api.close, incident)
    [review] = api.tasks(incident)
    commit(api.post, f"learning_tasks/{review['id']}/actions/complete")
    for _ in range(2):
        configuration.flow_status_move(flow=security.flow, status=security.review, direction="down")

    [report] = [t for t in api.tasks(incident) if t["title"] == REPORT_TASK]
    assert commit(api.post, f"learning_tasks/{report['id']}/actions/complete").status_code == 200

    assert api.incident(incident)["incident_status"]["name"] == "Legal"


def test_an_incident_without_a_run_carries_on_in_the_default_flow(acme, owner, commit):
    """Every incident that entered has a LearningRun since the migration; one without runs the default flow."""
    api = editor_of(acme)
    incident = declare(acme, owner, "Critical")
    commit(api.close, incident)
    LearningRun.objects.filter(incident=incident).delete()
    LearningTask.objects.filter(incident=incident).update(state="completed")

    assert commit(learning_advance, incident_id=incident.pk, from_status_id=fresh(incident).status_id) is True
    assert fresh(incident).status.name == "Reviewing"
    assert LearningTask.objects.filter(incident=incident, status__name="Reviewing").count() == 4


# --- decide(), per type ------------------------------------------------------------------------


def test_decide_reads_the_rules_of_the_incidents_type(acme, owner, security):
    never = IncidentType.objects.create(org=acme, name="Drill", rank=2)
    configuration.rules_update(org=acme, incident_type=never, auto_enter_min_severity=None,
                               otherwise=UnmatchedPolicy.NEVER)
    empty_flow = configuration.flow_create(org=acme, name="Nothing yet")
    empty = IncidentType.objects.create(org=acme, name="Empty", rank=3)
    configuration.rules_update(org=acme, incident_type=empty, learning_flow=empty_flow, auto_enter_all=True,
                               auto_enter_min_severity=None, otherwise=UnmatchedPolicy.ASK)
    configuration.rules_update(org=acme, auto_enter_min_severity=Severity.objects.get(org=acme, name="Major"),
                               otherwise=UnmatchedPolicy.ASK)

    def of(incident_type, severity):
        incident = declare(acme, owner, severity)
        incident.incident_type = incident_type
        return decide(incident)

    default = IncidentType.objects.get(org=acme, is_default=True)
    assert [of(default, s) for s in ("Minor", "Major", "Critical")] == [
        FlowDecision.ASK, FlowDecision.REQUIRED, FlowDecision.REQUIRED]
    assert [of(security.incident_type, s) for s in ("Minor", "Critical")] == [FlowDecision.REQUIRED] * 2
    assert [of(never, s) for s in ("Minor", "Critical")] == [FlowDecision.NEVER] * 2
    # Its flow has no statuses: it closes straight, whatever the rules say.
    assert of(empty, "Critical") == FlowDecision.NEVER
    configuration.flow_status_add(flow=empty_flow, status=IncidentStatus.objects.get(org=acme, name="Reviewing"))
    assert of(empty, "Minor") == FlowDecision.REQUIRED
