"""The hot reads written in Postgres SQL (incidentio/db.py) fall back to the ORM
on other databases (the embedded SQLite mode of ``make run``). Both paths must
give the same answers: here the fallback is forced on Postgres and compared."""

from __future__ import annotations

import pytest
from django.utils import timezone

from incidentio import selectors
from incidentio.actors import Actor
from incidentio.api import incident_rows
from incidentio.models import Incident, IncidentRole, IncidentStatus, Severity
from incidentio.services.incidents import incident_assign_role, incident_close, incident_declare
from tests.conftest import postgres_only

pytestmark = [pytest.mark.django_db, postgres_only]


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
    until = (timezone.now() + timezone.timedelta(days=1)).isoformat()
    live = IncidentStatus.objects.filter(org=acme, category="live").order_by("rank").first()
    queries = [
        "?page_size=25", "?page_size=2", "?status_category[one_of]=triage,live", "?learning_flow[one_of]=opted_out",
        f"?severity[gte]={incidents[-1].public_id}", f"?created_at[gte]={since.replace('+', '%2B')}&page_size=3",
        f"?status[one_of]={live.public_id}&severity[gte]={incidents[0].public_id}",
        f"?status_category[one_of]=live&learning_flow[one_of]=not_entered&created_at[lte]={until.replace('+', '%2B')}",
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
            pages.append((response.context["rows"], response.context["controls"]))
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


def _values(obj) -> dict | None:
    return None if obj is None else {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def _incident_page_data(detail) -> dict:
    """Everything the incident page reads from ``selectors.incident_detail``."""
    incident, choices = detail
    merged_into = incident.merged_into
    return {
        "org_roles": [_values(role) for role in choices.roles],
        "live_statuses": choices.live_statuses,
        "severities": choices.severities,
        "members": [tuple(member) for member in choices.members],
        "incident": _values(incident),
        "status": _values(incident.status),
        "severity": _values(incident.severity),
        "merged_into": merged_into and (merged_into.public_id, merged_into.reference),
        "postmortem": _values(getattr(incident, "postmortem", None)),
        "roles": sorted((a.role_id, a.user_id, a.user.display_name, a.assigned_at)
                        for a in incident.role_assignments.all()),
        "follow_ups": [(_values(f), f.assignee and f.assignee.display_name, f.incident.reference)
                       for f in incident.follow_ups.all()],
        "debriefs": [(_values(d), [u.display_name for u in d.attendees.all()], d.incident.reference)
                     for d in incident.debriefs.all()],
    }


@pytest.fixture
def full_incident(acme, owner, responder, viewer):
    """An incident with every relation the page shows: merged into another, a
    post-mortem, roles (one held by a former member), follow-ups assigned or
    not, debriefs with attendees or none."""
    from incidentio.services.documents import debrief_schedule, postmortem_create
    from incidentio.services.follow_ups import follow_up_create
    from orgs.models import Membership

    actor = Actor.for_user(owner)
    severity = Severity.objects.filter(org=acme).order_by("rank").last()
    incident = incident_declare(org=acme, actor=actor, name="Checkout <b>down</b>", severity=severity,
                                summary="It *broke*")
    other = incident_declare(org=acme, actor=actor, name="Checkout down (again)")
    roles = list(IncidentRole.objects.filter(org=acme))
    incident_assign_role(incident=incident, actor=actor, role=roles[0], user=responder)
    incident_assign_role(incident=incident, actor=actor, role=roles[1], user=viewer)
    Membership.objects.filter(org=acme, user=viewer).delete()  # a former member still holds a role
    follow_up_create(incident=incident, actor=actor, title="Add an alert", assignee=responder, priority="high")
    follow_up_create(incident=incident, actor=actor, title="Write a runbook", description="For <on-call>")
    soon = timezone.now() + timezone.timedelta(days=2)
    debrief_schedule(incident=incident, actor=actor, scheduled_at=soon, location="Room 1",
                     attendees=[owner, responder])
    debrief_schedule(incident=incident, actor=actor, scheduled_at=soon + timezone.timedelta(days=1))
    postmortem_create(incident=incident, actor=actor)
    # Only an incident in triage can be merged, and one merged takes no follow-ups: set the link directly.
    Incident.objects.filter(pk=incident.pk).update(merged_into=other)
    return incident


def test_the_incident_page_reads_the_same_through_the_orm(acme, owner, responder, viewer, signed_in, full_incident,
                                                          orm_only, django_assert_num_queries):
    import re

    selectors.incident_detail(org=acme, public_id=full_incident.public_id)  # prepared on this connection
    with django_assert_num_queries(1):
        with_sql = _incident_page_data(selectors.incident_detail(org=acme, public_id=full_incident.public_id))
    assert with_sql["merged_into"][1].startswith("INC-") and with_sql["postmortem"]
    assert len(with_sql["roles"]) == 2 and [f[1] for f in with_sql["follow_ups"]] == [responder.display_name, None]
    assert [len(attendees) for _, attendees, _ in with_sql["debriefs"]] == [2, 0]
    assert [role["name"] for role in with_sql["org_roles"]] == [r.name for r in IncidentRole.objects.filter(org=acme)]
    assert [name for _, name in with_sql["live_statuses"]] == list(
        IncidentStatus.objects.filter(org=acme, category="live").order_by("rank").values_list("name", flat=True))
    assert len(with_sql["severities"]) == Severity.objects.filter(org=acme).count()
    assert responder.email in [email for _, _, email in with_sql["members"]]
    assert viewer.email not in [email for _, _, email in with_sql["members"]]  # no longer a member

    client = signed_in(owner, acme)
    url = f"/acme/incidents/{full_incident.public_id}/"

    def page() -> str:
        html = client.get(url).content.decode()
        return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)  # masked anew on each render

    page()  # shows (and so uses up) the sign-in message
    page_with_sql = page()
    assert "Checkout &lt;b&gt;down&lt;/b&gt;" in page_with_sql and "Room 1" in page_with_sql
    orm_only()
    assert _incident_page_data(selectors.incident_detail(org=acme, public_id=full_incident.public_id)) == with_sql
    assert page() == page_with_sql


def test_the_incident_timelines_newest_events_are_the_same_through_the_orm(acme, full_incident, orm_only,
                                                                           django_assert_num_queries):
    from incidentio.models import ActorKind, EventKind, TimelineEvent

    start = timezone.now()
    TimelineEvent.objects.bulk_create(  # 60 more, two at each instant: the order must break ties the same way
        TimelineEvent(incident=full_incident, kind=EventKind.UPDATE_POSTED, actor_kind=ActorKind.SYSTEM,
                      text=f"update {n}", occurred_at=start + timezone.timedelta(minutes=n // 2))
        for n in range(60)
    )

    def newest():
        timeline = selectors.incident_timeline(incident=full_incident)
        return [(e.public_id, e.kind, e.text, e.occurred_at, e.actor_name) for e in timeline.events], \
            timeline.earlier_count

    newest()  # prepared on this connection
    with django_assert_num_queries(1):
        with_sql = newest()
    events, earlier = with_sql
    assert len(events) == selectors.TIMELINE_PAGE_EVENTS and events[-1][2] == "update 59"
    assert earlier == TimelineEvent.objects.filter(incident=full_incident).count() - len(events)
    orm_only()
    assert newest() == with_sql


def test_the_incident_pages_learning_tasks_are_the_same_through_the_orm(acme, owner, responder, monkeypatch,
                                                                        django_assert_num_queries):
    from learning import selectors as learning_selectors
    from learning.models import LearningTask
    from learning.services.flow import learning_advance
    from learning.services.tasks import task_complete

    actor = Actor.for_user(owner)
    incident = incident_declare(org=acme, actor=actor, name="Queue backed up", lead=responder)
    incident_close(incident=incident, actor=actor, learning_flow="run")
    for task in LearningTask.objects.filter(incident=incident, status__name="Documenting"):
        task_complete(task=task, actor=Actor.for_user(responder))
    incident.refresh_from_db()
    learning_advance(incident_id=incident.pk, from_status_id=incident.status_id)  # what the worker does: on to Reviewing
    incident.refresh_from_db()
    LearningTask.objects.filter(incident=incident, status=incident.status).update(assignee=None)  # some unassigned

    def groups():
        return [
            (_values(group.status), group.is_current,
             [(_values(task), task.assignee and task.assignee.display_name) for task in group.tasks])
            for group in learning_selectors.incident_tasks(incident=incident)
        ]

    groups()  # prepared on this connection
    with django_assert_num_queries(1):
        with_sql = groups()
    assert [(status["name"], current) for status, current, _ in with_sql] == [("Documenting", False),
                                                                             ("Reviewing", True)]
    assert {assignee for _, _, tasks in with_sql for _, assignee in tasks} == {responder.display_name, None}
    monkeypatch.setattr(learning_selectors, "on_postgres", lambda: False)
    assert groups() == with_sql


def test_instances_from_plain_sql_take_values_in_field_order():
    from incidentio.db import model_from_json
    from orgs.models import User

    user = model_from_json(User, ("id", "email", "name"), (7, "ada@example.com", "Ada"))
    assert (user.pk, user.email, user.name, user.display_name) == (7, "ada@example.com", "Ada", "Ada")
    with pytest.raises(ValueError, match="field order"):
        model_from_json(User, ("id", "name", "email"), (7, "Ada", "ada@example.com"))
