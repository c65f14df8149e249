"""Settings → Learning flow with several flows: every flow (the default first)
with its statuses and templates (and their due rules), every incident type
with its flow and rules, and the actions on flows. Admin-only; another org's
ids are 404."""

from __future__ import annotations

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentStatus, IncidentType, Severity
from learning.models import LearningFlow, LearningFlowStatus, LifecycleRules, TaskTemplate
from learning.services.flow import incident_close
from tests.learning.security_flow import REVIEW_TASK, declare_security, make_security

pytestmark = pytest.mark.django_db

PAGE = "/acme/settings/learning/"


@pytest.fixture
def as_admin(admin, acme, signed_in):
    return signed_in(admin, acme)


@pytest.fixture
def security(acme):
    return make_security(acme)


def _post(client, action, **data):
    return client.post(PAGE, {"action": action, **data})


def _text(response) -> str:
    return response.content.decode()


def test_the_page_shows_each_flow_each_types_rules_the_due_rules_and_the_snapshot_rule(as_admin, acme, security):
    response = as_admin.get(PAGE)
    html = _text(response)

    assert [card.flow.name for card in response.context["flows"]] == ["Default", "Security"]
    security_card = response.context["flows"][1]
    assert [c.status.name for c in security_card.cards] == ["Security review", "Documenting"]
    assert [row.template.title for row in security_card.cards[0].tasks] == [REVIEW_TASK]
    assert "Due 2 business days after the incident was resolved" in html
    assert "No due date" in html  # the Default flow's templates
    summaries = {row.incident_type.name: row.summary for row in response.context["types"]}
    assert summaries == {"Default": "Default flow, Critical and above, otherwise ask",
                         "Security": "Security flow, always enters"}
    assert "Security</strong> → <span data-testid=\"type-summary\">Security flow, always enters" in html
    assert "An incident keeps the flow and the tasks it started with" in html
    assert "For example: <em>Security</em> incidents always run a <em>Security</em> flow" in html


def test_admin_sets_a_types_flow_and_rules(as_admin, acme, security):
    major = Severity.objects.get(org=acme, name="Major")
    default = IncidentType.objects.get(org=acme, is_default=True)

    response = _post(as_admin, "rules", incident_type=default.public_id, learning_flow=security.flow.public_id,
                     auto_enter_min_severity=major.public_id, otherwise="never")

    assert response.status_code == 302
    rules = LifecycleRules.objects.get(incident_type=default)
    assert (rules.learning_flow, rules.auto_enter_all, rules.auto_enter_min_severity, rules.otherwise) == (
        security.flow, False, major, "never")
    html = _text(as_admin.get(PAGE))
    assert "Lifecycle rules of Default saved." in html
    assert "Security flow, Major and above, otherwise never" in html


def test_admin_adds_a_flow_with_a_shared_and_a_new_status_and_a_task_with_a_due_rule(as_admin, acme):
    assert _post(as_admin, "flow_create", name="Customer data", description="Personal data.").status_code == 302
    flow = LearningFlow.objects.get(org=acme, name="Customer data")
    documenting = IncidentStatus.objects.get(org=acme, name="Documenting")
    assert _post(as_admin, "step_add", flow=flow.public_id, status=documenting.public_id).status_code == 302
    assert _post(as_admin, "status_create", flow=flow.public_id, name="Notify customers").status_code == 302
    notify = IncidentStatus.objects.get(org=acme, name="Notify customers")
    response = _post(as_admin, "task_create", flow=flow.public_id, status=notify.public_id, title="E-mail them",
                     kind="custom", due_days="3", due_from="incident_resolved", required="on")
    assert response.status_code == 302
    assert list(LearningFlowStatus.objects.filter(flow=flow).values_list("status__name", flat=True)) == [
        "Documenting", "Notify customers"]
    template = TaskTemplate.objects.get(title="E-mail them")
    assert (template.flow, template.due_days, template.due_from) == (flow, 3, "incident_resolved")
    # The Default flow did not get the new status nor the task.
    default = LearningFlow.objects.get(org=acme, is_default=True)
    assert not LearningFlowStatus.objects.filter(flow=default, status=notify).exists()

    bad = _post(as_admin, "task_create", flow=flow.public_id, status=notify.public_id, title="Late",
                kind="custom", due_days="400")
    assert bad.status_code == 400 and not TaskTemplate.objects.filter(title="Late").exists()

    assert _post(as_admin, "status_move", flow=flow.public_id, id=notify.public_id, direction="up").status_code == 302
    assert list(LearningFlowStatus.objects.filter(flow=flow).values_list("status__name", flat=True)) == [
        "Notify customers", "Documenting"]
    assert _post(as_admin, "step_remove", flow=flow.public_id, id=notify.public_id).status_code == 302
    assert not TaskTemplate.objects.filter(title="E-mail them").exists()
    assert IncidentStatus.objects.filter(pk=notify.pk).exists()  # out of the flow, not deleted

    assert _post(as_admin, "flow_default", id=flow.public_id).status_code == 302
    assert LearningFlow.objects.get(org=acme, is_default=True) == flow
    assert _post(as_admin, "flow_delete", id=flow.public_id).status_code == 400  # the default
    assert _post(as_admin, "flow_default", id=default.public_id).status_code == 302
    assert _post(as_admin, "flow_delete", id=flow.public_id).status_code == 302
    assert not LearningFlow.objects.filter(pk=flow.pk).exists()


def test_a_flow_a_type_names_or_an_incident_ran_is_not_deleted(as_admin, acme, owner, security):
    response = _post(as_admin, "flow_delete", id=security.flow.public_id)
    assert response.status_code == 400
    assert "is the flow of the incident type(s) Security" in _text(response)

    incident_close(incident=declare_security(acme, owner, security), actor=Actor.for_user(owner))
    _post(as_admin, "rules", incident_type=security.incident_type.public_id, learning_flow="", otherwise="ask")
    response = _post(as_admin, "flow_delete", id=security.flow.public_id)
    assert response.status_code == 400
    assert "an incident keeps the flow it started with" in _text(response)
    assert LearningFlow.objects.filter(pk=security.flow.pk).exists()


def test_responders_get_403_and_another_orgs_flows_and_types_are_404(acme, globex, responder, signed_in, as_admin):
    theirs = LearningFlow.objects.get(org=globex)
    their_type = IncidentType.objects.get(org=globex)
    client = signed_in(responder, acme)
    assert _post(client, "flow_create", name="Sneaky").status_code == 403
    assert [
        _post(as_admin, "flow_update", id=theirs.public_id, name="Pwned").status_code,
        _post(as_admin, "flow_delete", id=theirs.public_id).status_code,
        _post(as_admin, "flow_default", id=theirs.public_id).status_code,
        _post(as_admin, "status_create", flow=theirs.public_id, name="Pwned").status_code,
        _post(as_admin, "rules", incident_type=their_type.public_id, otherwise="never").status_code,
        _post(as_admin, "rules", learning_flow=theirs.public_id, otherwise="never").status_code,
    ] == [404] * 6
    assert not LearningFlow.objects.filter(name__in=["Sneaky", "Pwned"]).exists()
    assert LifecycleRules.objects.get(incident_type=their_type).otherwise == "ask"
