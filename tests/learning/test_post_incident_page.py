"""The Post-incident page: incidents in the learning flow and those finished
with it that still owe follow-ups, through the dashboard."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import FollowUpStatus, IncidentType, Severity
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningStatusVisit, LearningTask, TaskState
from learning.services.flow import incident_close, learning_opt_out
from learning.services.tasks import task_complete
from orgs.models import Membership

pytestmark = pytest.mark.django_db

PAGE = "/acme/post-incident/"


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """The flow's advance runs on commit through Celery; in-process here."""


@pytest.fixture
def as_responder(responder, acme, signed_in):
    return signed_in(responder, acme)


def _declare(org, lead, name, **kwargs):
    return incident_declare(org=org, actor=Actor.for_user(lead), name=name,
                            severity=Severity.objects.filter(org=org).first(), lead=lead, **kwargs)


def _in_flow(org, lead, name, *, days_in_status=0, **kwargs):
    incident = incident_close(incident=_declare(org, lead, name, **kwargs), actor=Actor.for_user(lead),
                              learning_flow="run")
    LearningStatusVisit.objects.filter(incident=incident, status=incident.status).update(
        entered_at=timezone.now() - timedelta(days=days_in_status, hours=1))
    return incident


def _rows(response) -> list[str]:
    """The listed incidents' references, in page order."""
    return re.findall(r'<span class="ref">(INC-\d+)</span>', response.content.decode())


def _next_link(response) -> str | None:
    match = re.search(r'href="(\?[^"]*)" data-testid="next-page"', response.content.decode())
    return match.group(1).replace("&amp;", "&") if match else None


def _overdue(incident, *, tasks: int) -> None:
    outstanding = LearningTask.objects.filter(incident=incident, state=TaskState.OUTSTANDING).order_by("pk")
    LearningTask.objects.filter(pk__in=[t.pk for t in outstanding[:tasks]]).update(
        due_at=timezone.now() - timedelta(days=1))


def test_an_incident_in_the_flow_with_its_type_status_time_lead_and_counts(as_responder, acme, responder):
    security = IncidentType.objects.create(org=acme, name="Security")
    incident = _in_flow(acme, responder, "Leaked token", days_in_status=3, incident_type=security)
    _overdue(incident, tasks=1)
    LearningTask.objects.filter(incident=incident, state=TaskState.OUTSTANDING, due_at__isnull=True).update(
        due_at=timezone.now() + timedelta(days=2))  # due, not overdue
    follow_up_create(incident=incident, actor=Actor.for_user(responder), title="Rotate every token")

    response = as_responder.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    row = page[page.index('data-testid="post-incident-row"'):page.index("</tr>", page.index("post-incident-row"))]
    assert f"{incident.reference}</span> Leaked token" in row
    assert "Security" in row and "Documenting" in row and ">3\xa0days<" in row
    assert responder.display_name in row
    # Four tasks in Documenting; creating the follow-up completed one: three tasks and the follow-up.
    assert 'data-label="Outstanding">4<' in row
    assert "1 overdue" in row
    assert 'class="active">Post-incident</a>' in page


def _address_current_status(incident, lead, django_capture_on_commit_callbacks):
    """Complete every outstanding task of the incident's status; the advance runs on commit."""
    for task in LearningTask.objects.filter(incident=incident, status=incident.status, state=TaskState.OUTSTANDING):
        with django_capture_on_commit_callbacks(execute=True):
            task_complete(task=task, actor=Actor.for_user(lead))
    incident.refresh_from_db()


def _visits(incident) -> list[tuple[str, object, object]]:
    return [(v.status.name, v.entered_at, v.left_at)
            for v in LearningStatusVisit.objects.filter(incident=incident).select_related("status").order_by("pk")]


def test_time_in_status_restarts_when_the_incident_moves_on(as_responder, acme, responder,
                                                            django_capture_on_commit_callbacks):
    incident = _in_flow(acme, responder, "Moved on", days_in_status=5)
    assert ">5\xa0days<" in as_responder.get(PAGE).content.decode()

    _address_current_status(incident, responder, django_capture_on_commit_callbacks)

    page = as_responder.get(PAGE).content.decode()
    assert _rows(as_responder.get(PAGE)) == [incident.reference]
    assert "Reviewing" in page and ">under a minute<" in page
    # The flow marks when the incident left Documenting: when it entered Reviewing.
    (_, _, left_documenting), (reviewing, entered_reviewing, left_reviewing) = _visits(incident)
    assert reviewing == "Reviewing" and left_documenting == entered_reviewing and left_reviewing is None


def test_completing_or_opting_out_marks_the_status_left_at_closing(acme, responder, django_capture_on_commit_callbacks):
    completed = _in_flow(acme, responder, "Completed")
    _address_current_status(completed, responder, django_capture_on_commit_callbacks)
    _address_current_status(completed, responder, django_capture_on_commit_callbacks)
    assert completed.status.name == "Closed"
    (_, _, left_documenting), (_, entered_reviewing, left_reviewing) = _visits(completed)
    assert left_documenting == entered_reviewing and left_reviewing == completed.closed_at

    opted_out = _in_flow(acme, responder, "Opted out")
    learning_opt_out(incident=opted_out, actor=Actor.for_user(responder), reason="Covered by the quarterly review")
    opted_out.refresh_from_db()
    [(_, _, left_at)] = _visits(opted_out)
    assert left_at == opted_out.closed_at is not None


def test_only_incidents_in_the_flow_are_listed_by_default(as_responder, acme, responder):
    running = _in_flow(acme, responder, "Running")
    _declare(acme, responder, "Still live")
    incident_close(incident=_declare(acme, responder, "Skipped"), actor=Actor.for_user(responder),
                   learning_flow="opt_out", opt_out_reason="Test incident")
    assert _rows(as_responder.get(PAGE)) == [running.reference]


def test_finished_incidents_stay_while_a_follow_up_is_outstanding(as_responder, acme, responder):
    actor = Actor.for_user(responder)
    owing = _in_flow(acme, responder, "Owes a follow-up")
    follow_up = follow_up_create(incident=owing, actor=actor, title="Add an alert")
    learning_opt_out(incident=owing, actor=actor, reason="Covered by the quarterly review")
    settled = _in_flow(acme, responder, "Nothing left")
    done = follow_up_create(incident=settled, actor=actor, title="Done already")
    type(done).objects.filter(pk=done.pk).update(status=FollowUpStatus.COMPLETED)
    learning_opt_out(incident=settled, actor=actor, reason="Covered elsewhere")

    response = as_responder.get(PAGE, {"view": "finished"})
    assert _rows(response) == [owing.reference]
    assert "Closed" in response.content.decode()
    assert _rows(as_responder.get(PAGE)) == []

    type(follow_up).objects.filter(pk=follow_up.pk).update(status=FollowUpStatus.COMPLETED)
    assert _rows(as_responder.get(PAGE, {"view": "finished"})) == []


def test_longest_in_status_first_or_most_overdue_first(as_responder, acme, responder):
    recent = _in_flow(acme, responder, "Recent", days_in_status=1)
    oldest = _in_flow(acme, responder, "Oldest", days_in_status=9)
    middle = _in_flow(acme, responder, "Middle", days_in_status=4)
    _overdue(recent, tasks=3)
    _overdue(middle, tasks=1)
    assert _rows(as_responder.get(PAGE)) == [oldest.reference, middle.reference, recent.reference]
    assert _rows(as_responder.get(PAGE, {"sort": "overdue"})) == [
        recent.reference, middle.reference, oldest.reference]


def test_filters_by_type_owner_and_overdue(as_responder, acme, responder, admin):
    security = IncidentType.objects.create(org=acme, name="Security")
    theirs = _in_flow(acme, admin, "Led by the admin")
    mine_security = _in_flow(acme, responder, "Mine, security", incident_type=security)
    mine_late = _in_flow(acme, responder, "Mine, late")
    _overdue(mine_late, tasks=1)
    # The admin owns a follow-up of one of the responder's incidents: that makes them an owner there too.
    follow_up_create(incident=mine_security, actor=Actor.for_user(responder), title="Audit", assignee=admin)

    assert _rows(as_responder.get(PAGE, {"type": str(security.public_id)})) == [mine_security.reference]
    assert set(_rows(as_responder.get(PAGE, {"owner": str(admin.pk)}))) == {
        theirs.reference, mine_security.reference}
    assert _rows(as_responder.get(PAGE, {"overdue": "on"})) == [mine_late.reference]
    response = as_responder.get(PAGE, {"overdue": "on", "owner": str(admin.pk)})
    assert _rows(response) == []
    assert "No incident matches these filters." in response.content.decode()


def test_another_orgs_incidents_never_shown_nor_its_people_or_types(
    as_responder, acme, responder, globex, outsider
):
    _in_flow(globex, outsider, "Globex outage")
    theirs = IncidentType.objects.get(org=globex, is_default=True)
    mine = _in_flow(acme, responder, "Acme outage")
    page = as_responder.get(PAGE).content.decode()
    assert _rows(as_responder.get(PAGE)) == [mine.reference]
    assert "Globex outage" not in page and outsider.email not in page

    response = as_responder.get(PAGE, {"owner": str(outsider.pk)})
    assert response.status_code == 400 and _rows(response) == []
    response = as_responder.get(PAGE, {"type": str(theirs.public_id)})
    assert response.status_code == 400 and _rows(response) == []


def test_bad_input_is_a_clear_error(as_responder, acme, responder):
    _in_flow(acme, responder, "Listed when the input is good")
    response = as_responder.get(PAGE, {"sort": "name"})
    assert response.status_code == 400
    assert "Sort: Select a valid choice." in response.content.decode()
    response = as_responder.get(PAGE, {"after": "forged"})
    assert response.status_code == 400
    assert "This page link is not valid" in response.content.decode()


def test_non_member_is_404(responder, acme, signed_in):
    client = signed_in(responder, acme)
    Membership.objects.filter(org=acme, user=responder).delete()
    assert client.get(PAGE).status_code == 404


def test_a_viewer_sees_the_page_and_the_nav_link(viewer, acme, responder, signed_in):
    incident = _in_flow(acme, responder, "Seen by viewers")
    response = signed_in(viewer, acme).get("/acme/incidents/")
    assert 'href="/acme/post-incident/"' in response.content.decode()
    assert _rows(signed_in(viewer, acme).get(PAGE)) == [incident.reference]


def test_empty_state_says_what_would_fill_it(as_responder):
    page = as_responder.get(PAGE).content.decode()
    assert "No incident is in the learning flow. Incidents enter it when they are closed" in page
    page = as_responder.get(PAGE, {"view": "finished"}).content.decode()
    assert "No incident finished with the learning flow has outstanding follow-ups." in page


@pytest.mark.parametrize("sort", ["time", "overdue"])
def test_pages_through_every_incident_once_keeping_the_filters(as_responder, acme, responder, sort):
    incidents = [_in_flow(acme, responder, f"Incident {n}", days_in_status=n) for n in range(27)]
    for n, incident in enumerate(incidents):
        _overdue(incident, tasks=n % 3)
    first = as_responder.get(PAGE, {"sort": sort})
    link = _next_link(first)
    assert len(_rows(first)) == 25 and f"sort={sort}" in link
    second = as_responder.get(PAGE + link)
    assert len(_rows(second)) == 2 and _next_link(second) is None
    assert sorted(_rows(first) + _rows(second)) == sorted(i.reference for i in incidents)
    if sort == "time":
        assert _rows(first)[0] == incidents[-1].reference  # 26 days in its status
    # A cursor of one order is refused by the other.
    other = "overdue" if sort == "time" else "time"
    assert as_responder.get(PAGE + link.replace(f"sort={sort}", f"sort={other}")).status_code == 400


def _queries(client, django_assert_max_num_queries, bound=None, **params):
    client.get(PAGE, params)  # warm: a connection prepares a hot statement once (incidentio/common/db.py)
    with django_assert_max_num_queries(bound or 30) as captured:
        response = client.get(PAGE, params)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("params", [{}, {"sort": "overdue", "overdue": "on"}, {"view": "finished"}],
                         ids=["default", "overdue", "finished"])
def test_query_count_does_not_grow_with_incidents(as_responder, acme, responder, admin, params,
                                                   django_assert_max_num_queries):
    def add(n):
        for i in range(n):
            incident = _in_flow(acme, responder if i % 2 else admin, f"Incident {i}", days_in_status=i)
            _overdue(incident, tasks=1)
            follow_up_create(incident=incident, actor=Actor.for_user(responder), title="Fix", assignee=admin)
            if params.get("view") == "finished":
                learning_opt_out(incident=incident, actor=Actor.for_user(responder), reason="Done")

    add(2)
    few = _queries(as_responder, django_assert_max_num_queries, **params)
    add(30)
    many = _queries(as_responder, django_assert_max_num_queries, bound=few, **params)
    assert many == few
