"""The incidents list's filter form, as a browser submits it (issue #17, item 8).

A browser sends every control of a GET form, the ones left on "Any" as empty
values: ``?q=&category=&status=&severity=<id>&incident_type=&learning_flow=&assignee=``.
Each request here is built that way: every control present, most of them empty.
"""

from __future__ import annotations

from html import escape

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, IncidentStatus, IncidentType, LearningFlowState, Severity
from incidentio.incidents.services.configuration import incident_type_create
from incidentio.incidents.services.incidents import incident_declare, incident_type_change
from tests.incidents.filter_world import declare_four_incidents

pytestmark = pytest.mark.django_db

LIST = "/acme/incidents/"
CONTROLS = ("q", "category", "status", "severity", "incident_type", "learning_flow", "assignee")


def form(**chosen) -> dict[str, str]:
    """The query string the filter form sends: every control, "Any" as ""."""
    assert set(chosen) <= set(CONTROLS)
    return {name: str(chosen.get(name, "")) for name in CONTROLS}


@pytest.fixture
def world(acme, globex, owner, responder, outsider):
    """Acme's four incidents (tests/incidents/filter_world.py), and one of Globex's that must never show."""
    declare_four_incidents(acme, owner=owner, responder=responder)

    def severity(name):
        return Severity.objects.get(org=acme, name=name)

    def status(name):
        return IncidentStatus.objects.get(org=acme, name=name)

    # INC-1 is a Security incident; the others keep the default type.
    security = incident_type_create(org=acme, name="Security")
    incident_type_change(incident=Incident.objects.get(org=acme, number=1), actor=Actor.for_user(owner),
                         incident_type=security)

    def incident_type(name):
        return IncidentType.objects.get(org=acme, name=name)

    # Globex: a matching name, its own Critical, its own Security type and a running flow.
    theirs = incident_declare(org=globex, actor=Actor.for_user(outsider), name="Checkout is down",
                              severity=Severity.objects.get(org=globex, name="Critical"),
                              incident_type=incident_type_create(org=globex, name="Security"))
    Incident.objects.filter(pk=theirs.pk).update(learning_flow=LearningFlowState.RUNNING)
    return {"severity": severity, "status": status, "incident_type": incident_type, "responder": responder,
            "owner": owner, "outsider": outsider}


@pytest.fixture
def as_responder(responder, acme, signed_in):
    return signed_in(responder, acme)


def listed(response) -> list[int]:
    assert response.status_code == 200, _errors(response)
    assert 'class="flash flash-error"' not in response.content.decode()
    return [incident.number for incident in response.context["page"].incidents]


def _errors(response) -> dict:
    form = response.context["form"] if response.context else None
    return dict(form.errors) if form is not None else {}


def test_every_control_on_any_lists_every_incident_of_the_org(as_responder, world):
    assert listed(as_responder.get(LIST, form())) == [4, 3, 2, 1]


@pytest.mark.parametrize("control, value, numbers", [
    ("q", "checkout", [3, 1]),
    ("q", "INC-2", [2]),
    ("category", "live", [3, 1]),
    ("category", "triage", [2]),
    ("category", "learning", [4]),
    ("status", "Fixing", [3]),
    ("status", "Investigating", [1]),
    ("severity", "Critical", [3]),
    ("severity", "Minor", [1]),
    ("incident_type", "Security", [1]),
    ("incident_type", "Default", [4, 3, 2]),
    ("learning_flow", "running", [4]),
    ("learning_flow", "not_entered", [3, 2, 1]),
    ("assignee", "responder", [3, 1]),
    ("assignee", "owner", [4, 3, 2]),
])
def test_each_control_alone_with_the_others_on_any(as_responder, world, control, value, numbers):
    chosen = {
        "status": lambda: world["status"](value).public_id,
        "severity": lambda: world["severity"](value).public_id,
        "incident_type": lambda: world["incident_type"](value).public_id,
        "assignee": lambda: world[value].pk,
    }.get(control, lambda: value)()
    assert listed(as_responder.get(LIST, form(**{control: chosen}))) == numbers


def test_the_reported_case_critical_alone_lists_inc_3(as_responder, world):
    critical = world["severity"]("Critical").public_id
    response = as_responder.get(f"{LIST}?q=&category=&status=&severity={critical}&learning_flow=&assignee=")
    assert listed(response) == [3]
    assert "Select a valid choice" not in response.content.decode()


@pytest.mark.parametrize("chosen, numbers", [
    (lambda w: {"q": "checkout", "severity": w["severity"]("Critical").public_id}, [3]),
    (lambda w: {"category": "live", "assignee": w["responder"].pk}, [3, 1]),
    (lambda w: {"category": "live", "severity": w["severity"]("Minor").public_id}, [1]),
    (lambda w: {"status": w["status"]("Fixing").public_id, "assignee": w["owner"].pk}, [3]),
    (lambda w: {"learning_flow": "not_entered", "category": "triage"}, [2]),
    (lambda w: {"q": "checkout", "incident_type": w["incident_type"]("Default").public_id}, [3]),
    (lambda w: {"learning_flow": "running", "severity": w["severity"]("Critical").public_id}, []),
    (lambda w: {"q": "payments", "category": "learning", "learning_flow": "running"}, [4]),
    (lambda w: {  # every control at once
        "q": "checkout", "category": "live", "status": w["status"]("Fixing").public_id,
        "severity": w["severity"]("Critical").public_id, "learning_flow": "not_entered",
        "assignee": w["responder"].pk,
    }, [3]),
])
def test_controls_combine(as_responder, world, chosen, numbers):
    assert listed(as_responder.get(LIST, form(**chosen(world)))) == numbers


def test_the_chosen_values_stay_selected(as_responder, world):
    critical = world["severity"]("Critical").public_id
    html = as_responder.get(LIST, form(severity=critical, category="live", q="checkout")).content.decode()
    assert f'<option value="{critical}" selected>Critical</option>' in html
    assert '<option value="live" selected>Live</option>' in html
    assert '<option value="" selected>Any</option>' in html  # status, untouched
    assert 'value="checkout"' in html


@pytest.mark.parametrize("control, value, label", [
    ("category", "bogus", "Category"),
    ("status", "not-a-status", "Status"),
    ("severity", "not-a-uuid", "Severity"),
    ("incident_type", "not-a-type", "Type"),
    ("learning_flow", "sideways", "Learning flow"),
    ("assignee", "abc", "Person in a role"),
    ("status", "6f1c1f8e-0000-4000-8000-000000000000", "Status"),
])
def test_an_invalid_value_is_refused_by_name_and_lists_nothing(as_responder, world, control, value, label):
    response = as_responder.get(LIST, form(**{control: value}))
    assert response.status_code == 400
    assert escape(f"{label}: Select a valid choice. {value} is not one of the available choices.") in (
        response.content.decode()
    )
    assert response.context["page"].incidents == []


@pytest.mark.parametrize("control", ["status", "severity", "incident_type", "assignee"])
def test_another_orgs_id_is_refused_and_matches_nothing(as_responder, world, globex, control):
    theirs = {
        "status": lambda: IncidentStatus.objects.get(org=globex, name="Investigating").public_id,
        "severity": lambda: Severity.objects.get(org=globex, name="Critical").public_id,
        "incident_type": lambda: IncidentType.objects.get(org=globex, name="Security").public_id,
        "assignee": lambda: world["outsider"].pk,
    }[control]()
    response = as_responder.get(LIST, form(**{control: theirs}))
    assert response.status_code == 400
    assert "is not one of the available choices." in response.content.decode()
    assert response.context["page"].incidents == []


def test_another_orgs_incidents_never_match(as_responder, world):
    # Globex's "Checkout is down" is running its flow; Acme's list shows Acme's only.
    assert listed(as_responder.get(LIST, form(q="checkout"))) == [3, 1]
    assert listed(as_responder.get(LIST, form(learning_flow="running"))) == [4]
    assert "Globex" not in as_responder.get(LIST, form()).content.decode()


def test_every_filter_of_the_specification_reaches_its_query():
    """A filter is added once, in incidentio/incidents/filters.py (FILTERS): each surface it names
    has a query condition for it, or adding it would fail here, not in a user's list."""
    from dataclasses import fields

    from incidentio.incidents.filters import API_FILTERS, DASHBOARD_FILTERS, DRILLDOWNS
    from incidentio.incidents.queries import COUNT_CONDITIONS, FILTER_CONDITIONS
    from incidentio.incidents.selectors import DrillDownFilters, IncidentFilters

    # The drill-down filters (tests/incidents/test_list_drilldown.py) fill one field of their own.
    assert {f.target for f in DASHBOARD_FILTERS} | {"drilldown"} == {field.name for field in fields(IncidentFilters)}
    assert {d.param for d in DRILLDOWNS} | {"no_severity", "now"} == {field.name for field in fields(DrillDownFilters)}
    assert [f.dashboard for f in DASHBOARD_FILTERS] == list(CONTROLS)
    assert {f.api for f in API_FILTERS} == set(FILTER_CONDITIONS) == set(COUNT_CONDITIONS)
