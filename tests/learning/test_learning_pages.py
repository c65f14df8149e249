"""The learning flow in the dashboard: the close choice, task actions, My tasks."""

from __future__ import annotations

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import EventKind, LearningFlowState
from incidentio.incidents.services.incidents import incident_assign_role
from learning.models import LearningTask, TaskState
from slackbot.models import OutboxMessage
from tests.form_errors import error_next_to
from tests.learning.incident_pages import declare as _declare
from tests.learning.incident_pages import in_flow as _in_flow
from tests.learning.incident_pages import page_url as _url

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """The advance runs on commit through Celery; in-process here."""


def _refused(client, response) -> str:
    """A refused action redirects (303) back to the incident page (post/redirect/get): that page, as HTML."""
    assert response.status_code == 303
    page = client.get(response["Location"])
    assert page.status_code == 200
    return page.content.decode()


def test_close_button_offers_the_choice_when_the_org_asks(responder, acme, signed_in):
    incident = _declare(acme, responder)
    page = signed_in(responder, acme).get(_url(incident)).content.decode()
    assert "Close incident…" in page  # it opens the choices: it does not close by itself
    assert "Close and run the learning flow" in page and "Close without the learning flow" in page


def test_closing_without_a_choice_is_a_clear_error_and_changes_nothing(responder, acme, signed_in):
    incident = _declare(acme, responder)
    client = signed_in(responder, acme)
    page = _refused(client, client.post(_url(incident, "close/")))
    assert "Choose whether to run the learning flow" in page  # no field to put it next to: a flash message
    incident.refresh_from_db()
    assert incident.is_live


def test_run_the_learning_flow_from_the_dashboard(responder, acme, signed_in, django_capture_on_commit_callbacks):
    incident = _declare(acme, responder)
    client = signed_in(responder, acme)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url(incident, "close/"), {"learning_flow": "run"})
    assert response.status_code == 302
    page = client.get(_url(incident)).content.decode()
    assert "Documenting" in page and "Create the post-mortem" in page
    assert "Start the post-mortem from the incident page" in page  # instructions
    incident.refresh_from_db()
    assert incident.learning_flow == LearningFlowState.RUNNING


@pytest.mark.parametrize("reason", ["", "   \n "])
def test_opting_out_needs_a_reason(reason, responder, acme, signed_in):
    incident = _declare(acme, responder)
    client = signed_in(responder, acme)
    response = client.post(_url(incident, "close/"), {"learning_flow": "opt_out", "opt_out_reason": reason})
    assert response["Location"].endswith("#close")
    page = _refused(client, response)
    error = error_next_to(page, "opt-out-reason")
    assert error == "Say why the learning flow is skipped; the reason is kept and shared."
    assert '<details class="close-choice" id="close" data-testid="close-choice" open>' in page
    incident.refresh_from_db()
    assert incident.is_live and incident.opt_out_reason == ""
    assert not OutboxMessage.objects.exists()


def test_opting_out_keeps_the_reason_on_the_incident_its_timeline_and_for_slack(responder, acme, signed_in, django_capture_on_commit_callbacks):
    incident = _declare(acme, responder)
    client = signed_in(responder, acme)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_url(incident, "close/"), {"learning_flow": "opt_out", "opt_out_reason": "Known flaky alert; no customer impact."})
    incident.refresh_from_db()
    assert incident.status.category == "closed" and incident.learning_flow == LearningFlowState.OPTED_OUT
    assert incident.opt_out_reason == "Known flaky alert; no customer impact."
    page = client.get(_url(incident)).content.decode()
    assert page.count("Known flaky alert; no customer impact.") >= 2  # panel and timeline
    message = OutboxMessage.objects.get(kind="learning.opted_out")
    assert "Known flaky alert" in message.text


def test_a_rule_forces_the_flow_for_critical_but_still_allows_opting_out(responder, acme, signed_in):
    incident = _declare(acme, responder, severity="Critical")
    client = signed_in(responder, acme)
    page = client.get(_url(incident)).content.decode()
    assert "Critical incidents go through the Default flow in Acme Inc., starting with Documenting" in page
    client.post(_url(incident, "close/"), {"learning_flow": "opt_out", "opt_out_reason": "Test incident from a drill."})
    incident.refresh_from_db()
    assert incident.learning_flow == LearningFlowState.OPTED_OUT


def test_complete_skip_reopen_and_assign_tasks_from_the_incident_page(responder, admin, acme, signed_in):
    incident = _in_flow(acme, responder)
    client = signed_in(responder, acme)
    tasks = list(LearningTask.objects.filter(incident=incident, status=incident.status, state=TaskState.OUTSTANDING))
    first, second = tasks[0], tasks[1]

    assert client.post(_url(incident, f"tasks/{first.public_id}/complete/")).status_code == 302
    assert client.post(_url(incident, f"tasks/{second.public_id}/not-doing/"), {"reason": "Covered elsewhere"}).status_code == 302
    assert client.post(_url(incident, f"tasks/{first.public_id}/reopen/")).status_code == 302
    assert client.post(_url(incident, f"tasks/{first.public_id}/assign/"), {"assignee": str(admin.pk)}).status_code == 302

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.state == TaskState.OUTSTANDING and first.assignee == admin and first.assigned_manually
    assert second.state == TaskState.NOT_DOING and second.not_doing_reason == "Covered elsewhere"
    kinds = list(incident.timeline.values_list("kind", flat=True))
    for kind in (EventKind.TASK_COMPLETED, EventKind.TASK_NOT_DOING, EventKind.TASK_REOPENED, EventKind.TASK_ASSIGNED):
        assert kind in kinds


def test_addressing_every_task_advances_the_incident(responder, acme, signed_in, django_capture_on_commit_callbacks):
    incident = _in_flow(acme, responder)
    client = signed_in(responder, acme)
    for task in LearningTask.objects.filter(incident=incident, status=incident.status, state=TaskState.OUTSTANDING):
        with django_capture_on_commit_callbacks(execute=True):
            client.post(_url(incident, f"tasks/{task.public_id}/complete/"))
    incident.refresh_from_db()
    assert incident.status.name == "Reviewing"
    assert "moved to Reviewing" in client.get(_url(incident)).content.decode()


def test_opting_out_from_inside_the_flow(responder, acme, signed_in):
    incident = _in_flow(acme, responder)
    client = signed_in(responder, acme)
    page = _refused(client, client.post(_url(incident, "learning/opt-out/"), {"opt_out_reason": " "}))
    assert error_next_to(page, "flow-opt-out-reason") == "This field is required."
    client.post(_url(incident, "learning/opt-out/"), {"opt_out_reason": "Superseded by INC-9's review."})
    incident.refresh_from_db()
    assert incident.learning_flow == LearningFlowState.OPTED_OUT and incident.status.category == "closed"
    assert not LearningTask.objects.filter(incident=incident, state=TaskState.OUTSTANDING).exists()


def test_viewer_sees_tasks_but_cannot_act(viewer, responder, acme, signed_in):
    incident = _in_flow(acme, responder)
    task = LearningTask.objects.filter(incident=incident).first()
    client = signed_in(viewer, acme)
    assert "Create the post-mortem" in client.get(_url(incident)).content.decode()
    for suffix in ("complete/", "not-doing/", "reopen/", "assign/"):
        assert client.post(_url(incident, f"tasks/{task.public_id}/{suffix}")).status_code == 403
    assert client.post(_url(incident, "learning/opt-out/"), {"opt_out_reason": "x"}).status_code == 403
    task.refresh_from_db()
    assert task.state == TaskState.OUTSTANDING


def test_another_orgs_task_is_404(responder, acme, outsider, globex, signed_in):
    theirs = _in_flow(globex, outsider)
    their_task = LearningTask.objects.filter(incident=theirs).first()
    mine = _in_flow(acme, responder)
    client = signed_in(responder, acme)
    # Their task through my incident, and their incident through my org.
    assert client.post(_url(mine, f"tasks/{their_task.public_id}/complete/")).status_code == 404
    assert client.post(f"/acme/incidents/{theirs.public_id}/tasks/{their_task.public_id}/complete/").status_code == 404
    their_task.refresh_from_db()
    assert their_task.state == TaskState.OUTSTANDING


def test_wrong_method_is_405(responder, acme, signed_in):
    incident = _in_flow(acme, responder)
    task = LearningTask.objects.filter(incident=incident).first()
    client = signed_in(responder, acme)
    assert client.get(_url(incident, f"tasks/{task.public_id}/complete/")).status_code == 405
    assert client.put("/acme/tasks/").status_code == 405


def test_my_tasks_lists_my_outstanding_tasks_across_incidents(responder, admin, acme, signed_in):
    one = _in_flow(acme, responder)
    two = _in_flow(acme, responder)
    _in_flow(acme, admin)  # someone else's
    client = signed_in(responder, acme)

    page = client.get("/acme/tasks/")
    tasks = page.context["page"].tasks
    assert page.status_code == 200
    assert {t.incident_id for t in tasks} == {one.pk, two.pk}
    mine = LearningTask.objects.filter(assignee=responder, state=TaskState.OUTSTANDING)
    assert sorted(t.pk for t in tasks) == sorted(mine.values_list("pk", flat=True))
    html = page.content.decode()
    for incident in (one, two):
        assert f'href="/acme/incidents/{incident.public_id}/#learning">{incident.reference} {incident.name}' in html
    first = LearningTask.objects.get(pk=tasks[0].pk)
    assert first.title in html and "Outstanding" in html
    assert ('<span class="badge warn">current</span>' in html) == (first.status_id == first.incident.status_id)

    done = client.get("/acme/tasks/?state=completed").context["page"].tasks
    assert all(t.state == TaskState.COMPLETED for t in done)  # the automatic ones, if any
    assert client.get("/acme/tasks/?status=not-a-uuid").status_code == 400
    assert client.get("/acme/tasks/?after=forged").status_code == 400


def test_my_tasks_query_count_does_not_grow(responder, acme, signed_in, django_assert_max_num_queries):
    client = signed_in(responder, acme)
    _in_flow(acme, responder)
    with django_assert_max_num_queries(12):
        client.get("/acme/tasks/")
    for _ in range(8):
        _in_flow(acme, responder)
    with django_assert_max_num_queries(12):
        client.get("/acme/tasks/")


def test_incident_page_query_count_does_not_grow_with_tasks(responder, acme, signed_in, django_assert_max_num_queries):
    incident = _in_flow(acme, responder)
    client = signed_in(responder, acme)
    with django_assert_max_num_queries(40) as few:
        client.get(_url(incident))
    for task in LearningTask.objects.filter(incident=incident)[:1]:
        for _ in range(30):
            task.pk = None
            task.public_id = __import__("uuid").uuid4()
            task.save()
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(_url(incident))


def test_role_change_moves_role_following_tasks(responder, admin, acme):
    incident = _in_flow(acme, responder)
    lead_role = acme.incident_roles.get(kind="lead")
    incident_assign_role(incident=incident, actor=Actor.for_user(responder), role=lead_role, user=admin)
    outstanding = LearningTask.objects.filter(incident=incident, state=TaskState.OUTSTANDING)
    assert outstanding.exists() and all(t.assignee == admin for t in outstanding)
    assert OutboxMessage.objects.filter(kind="learning.task_assigned", destination=f"dm:{admin.pk}").exists()


