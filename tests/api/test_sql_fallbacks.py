"""The hot reads written in Postgres SQL (incidentio/db.py) fall back to the ORM
on other databases (the embedded SQLite mode of ``make run``). Both paths must
give the same answers: here the fallback is forced on Postgres and compared."""

from __future__ import annotations

import pytest
from django.utils import timezone

from incidentio import selectors
from incidentio.actors import Actor
from incidentio.api import incident_rows
from incidentio.models import IncidentRole, IncidentStatus, Severity
from incidentio.services.incidents import incident_assign_role, incident_close, incident_declare

pytestmark = pytest.mark.django_db


@pytest.fixture
def orm_only(monkeypatch):
    def force():
        for module in (selectors, incident_rows):
            monkeypatch.setattr(module, "on_postgres", lambda: False)
    return force


@pytest.fixture
def incidents(acme, owner, responder):
    actor = Actor.for_user(owner)
    severities = list(Severity.objects.filter(org=acme).order_by("rank"))
    for n in range(5):
        incident = incident_declare(org=acme, actor=actor, name=f"Incident {n}", severity=severities[n % len(severities)],
                                    triage=n == 0)
        if n % 2:
            for role in IncidentRole.objects.filter(org=acme):
                incident_assign_role(incident=incident, actor=actor, role=role, user=responder)
        if n == 3:
            incident_close(incident=incident, actor=actor, learning_flow="opt_out", opt_out_reason="Drill")
    return severities


def test_the_api_incidents_list_is_the_same_through_the_orm(acme, api, api_key, incidents, orm_only):
    client = api(api_key(acme))
    since = (timezone.now() - timezone.timedelta(days=1)).isoformat()
    queries = [
        "?page_size=25", "?page_size=2", "?status_category[one_of]=triage,live", "?learning_flow[one_of]=opted_out",
        f"?severity[gte]={incidents[-1].public_id}", f"?created_at[gte]={since.replace('+', '%2B')}&page_size=3",
    ]

    def answers():
        found = []
        for query in queries:
            page = client.get(f"/api/v2/incidents{query}").json()
            found.append(page)
            if page["pagination_meta"]["after"]:
                found.append(client.get(f"/api/v2/incidents{query}&after={page['pagination_meta']['after']}").json())
        for page in found:  # a cursor is signed with a timestamp in seconds: compare what it points at
            if page["pagination_meta"]["after"]:
                page["pagination_meta"]["after"] = page["pagination_meta"]["after"].split(":")[0]
        return found

    with_sql = answers()
    assert any(len(page["incidents"]) > 1 for page in with_sql) and any(
        role for page in with_sql for item in page["incidents"] for role in item["roles"]
    )
    orm_only()
    assert answers() == with_sql


def test_the_dashboard_lists_filters_and_roles_are_the_same_through_the_orm(acme, owner, responder, signed_in,
                                                                          incidents, orm_only):
    client = signed_in(owner, acme)
    status = IncidentStatus.objects.filter(org=acme, category="live").first()
    queries = [
        "", "?category=live", f"?status={status.public_id}", f"?severity={incidents[1].public_id}",
        "?learning_flow=opted_out", f"?assignee={responder.pk}", "?q=incident 1", "?q=INC-2", "?q=100%_",
        f"?assignee={responder.pk}&category=live&q=Incident",
    ]

    def shown():
        pages = []
        for query in queries:
            response = client.get(f"/acme/incidents/{query}")
            assert response.status_code == 200, query
            pages.append((response.context["rows"], response.context["selects"]))
        return pages

    with_sql = shown()
    assert "Incident 1" in "".join(with_sql[0][0])
    assert all(rows for rows, _ in with_sql[:-2]) and not with_sql[-2][0]  # each filter finds something, "100%_" none
    orm_only()
    assert shown() == with_sql


def test_the_dashboards_membership_lookup_is_the_same_through_the_orm(acme, owner, outsider, monkeypatch):
    from orgs import selectors as org_selectors

    def found():
        membership = org_selectors.active_membership(org_slug="acme", user_id=owner.pk)
        return (
            [getattr(membership, f.attname) for f in type(membership)._meta.concrete_fields],
            [getattr(membership.org, f.attname) for f in type(membership.org)._meta.concrete_fields],
            [getattr(membership.user, f.attname) for f in type(membership.user)._meta.concrete_fields],
            org_selectors.active_membership(org_slug="acme", user_id=outsider.pk),
            org_selectors.active_membership(org_slug="nope", user_id=owner.pk),
        )

    with_sql = found()
    assert with_sql[1][1] == "acme" and with_sql[2][1] == owner.password and with_sql[3:] == (None, None)
    monkeypatch.setattr(org_selectors, "on_postgres", lambda: False)
    assert found() == with_sql
    owner.is_active = False
    owner.save()
    assert org_selectors.active_membership(org_slug="acme", user_id=owner.pk) is None
    monkeypatch.undo()
    assert org_selectors.active_membership(org_slug="acme", user_id=owner.pk) is None


def test_status_and_severity_choices_are_the_same_through_the_orm(acme, orm_only):
    every, live = selectors.filter_choices(org=acme), selectors.filter_choices(org=acme, status_categories={"live"})
    assert len(live[0]) < len(every[0]) and live[1] == every[1]
    orm_only()
    assert (selectors.filter_choices(org=acme), selectors.filter_choices(org=acme, status_categories={"live"})) == (
        every, live)
