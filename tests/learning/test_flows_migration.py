"""The migrations that brought learning flows per incident type
(learning 0004-0006, incidentio 0005-0007): an org configured and used before
them ends up with one Default flow holding its learning statuses in their
order and its templates, its rules on its Default type, and a LearningRun of
that flow for every incident that entered; no incident, task or timeline
event changes."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, IncidentType, Severity, TimelineEvent
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningFlow, LearningFlowStatus, LearningRun, LearningTask, LifecycleRules, TaskTemplate
from learning.services.flow import incident_close

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("learning", "0003_learning_status_visit"), ("incidentio", "0004_incident_timeline_version"),
          ("orgs", "0004_names_single_line")]


def _rows(model, org, **filters) -> list[dict]:
    return list(model.objects.filter(**filters).order_by("pk").values())


def test_an_org_from_before_gets_one_default_flow_and_no_incident_changes(acme, owner, eager_celery):
    actor = Actor.for_user(owner)
    entered = incident_close(incident=incident_declare(org=acme, actor=actor, name="In the flow"), actor=actor,
                             learning_flow="run")
    incident_close(incident=incident_declare(org=acme, actor=actor, name="Opted out"), actor=actor,
                   learning_flow="opt_out", opt_out_reason="A drill.")
    incident_declare(org=acme, actor=actor, name="Still live")

    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE)
    # Configured the old way: a third learning status ordered first, a template on it, rules at Major.
    old = executor.loader.project_state(BEFORE).apps
    Status, Template, Rules = (old.get_model("incidentio", "IncidentStatus"), old.get_model("learning", "TaskTemplate"),
                               old.get_model("learning", "LifecycleRules"))
    gathering = Status.objects.create(org_id=acme.pk, name="Gathering", category="learning", rank=0)
    Status.objects.filter(org_id=acme.pk, category="learning").exclude(pk=gathering.pk).update(rank=5)
    Template.objects.create(org_id=acme.pk, status=gathering, title="Collect the logs", kind="custom", rank=0)
    major = old.get_model("incidentio", "Severity").objects.get(org_id=acme.pk, name="Major")
    Rules.objects.filter(org_id=acme.pk).update(auto_enter_min_severity=major, otherwise="never")
    order = list(Status.objects.filter(org_id=acme.pk, category="learning").order_by("rank", "pk")
                 .values_list("pk", flat=True))
    templates = list(Template.objects.filter(org_id=acme.pk).order_by("pk").values_list("pk", flat=True))
    incidents = [{k: v for k, v in row.items()} for row in
                 old.get_model("incidentio", "Incident").objects.filter(org_id=acme.pk).order_by("pk").values()]
    tasks = list(old.get_model("learning", "LearningTask").objects.order_by("pk").values())
    events = list(old.get_model("incidentio", "TimelineEvent").objects.order_by("pk").values())

    executor = MigrationExecutor(connection)  # reload what is applied
    executor.migrate(latest)

    default_type = IncidentType.objects.get(org=acme, is_default=True)
    assert [{k: v for k, v in row.items() if k != "incident_type_id"}
            for row in Incident.objects.filter(org=acme).order_by("pk").values()] == incidents
    assert set(Incident.objects.filter(org=acme).values_list("incident_type", flat=True)) == {default_type.pk}
    assert list(LearningTask.objects.order_by("pk").values(*tasks[0])) == tasks
    assert list(TimelineEvent.objects.order_by("pk").values(*events[0])) == events

    [flow] = LearningFlow.objects.filter(org=acme)
    assert (flow.name, flow.is_default) == ("Default", True)
    assert list(LearningFlowStatus.objects.filter(flow=flow).values_list("status_id", flat=True)) == order
    assert list(TaskTemplate.objects.filter(org=acme).order_by("pk").values_list("pk", flat=True)) == templates
    assert set(TaskTemplate.objects.filter(org=acme).values_list("flow", flat=True)) == {flow.pk}
    rules = LifecycleRules.objects.get(org=acme)
    assert (rules.incident_type, rules.learning_flow, rules.auto_enter_min_severity, rules.otherwise) == (
        default_type, None, Severity.objects.get(org=acme, name="Major"), "never")
    assert list(LearningRun.objects.values_list("incident_id", "flow_id")) == [(entered.pk, flow.pk)]
