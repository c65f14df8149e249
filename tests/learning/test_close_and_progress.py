"""Issue 21, items 5 and 7 through the test client: refused forms show their
error next to the field and land on a page that answers GET (post/redirect/get),
the learning panel shows every status of the flow with "n of m done", and the
action that finishes a status says the incident moved on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import (
    IncidentRole,
    IncidentStatus,
    LearningFlowState,
    RoleKind,
    TimelineEvent,
)
from incidentio.incidents.services import documents, follow_ups
from learning.models import LearningTask, TaskState
from learning.services import tasks as task_services
from learning.services.flow import incident_close
from orgs.models import Membership
from tests.form_errors import error_next_to
from tests.learning.incident_pages import declare as _declare
from tests.learning.incident_pages import in_flow as _in_flow
from tests.learning.incident_pages import page_url as _url

pytestmark = pytest.mark.django_db


def _landing(client, response) -> str:
    """Where a refused post lands: a 303 to a page whose GET answers 200 (what a reload does)."""
    assert response.status_code == 303, response.content.decode()[:1000]
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert client.get(response["Location"]).status_code == 200  # reloaded: still a page, not a 405
    return page.content.decode()


# --- Post/redirect/get, errors next to their field ---------------------------------------------------


def _live(acme, responder, outsider):
    return _declare(acme, responder), {}


def _triage(acme, responder, outsider):
    return _declare(acme, responder, triage=True), {}


def _with_follow_up(acme, responder, outsider):
    incident = _declare(acme, responder)
    follow_up = follow_ups.follow_up_create(incident=incident, actor=Actor.for_user(responder), title="Add alert",
                                            due_at=timezone.now() + timedelta(days=3))
    return incident, {"follow_up": follow_up.public_id}


def _flow(acme, responder, outsider):
    incident = _in_flow(acme, responder)
    task = LearningTask.objects.filter(incident=incident, status=incident.status).order_by("rank").first()
    return incident, {"task": task.public_id}


def _lead_role(acme, responder, outsider):
    incident = _declare(acme, responder)
    role = IncidentRole.objects.get(org=acme, kind=RoleKind.LEAD)
    return incident, {"role": role.public_id, "outsider": outsider.pk}


# (setup, action path, posted data, id of the field, the error shown next to it)
CASES = {
    "close without the flow, no reason": (
        _live, "close/", {"learning_flow": "opt_out", "opt_out_reason": "  "}, "opt-out-reason",
        "Say why the learning flow is skipped; the reason is kept and shared."),
    "decline without a reason": (_triage, "decline/", {"reason": ""}, "decline-reason", "This field is required."),
    "cancel without a reason": (_live, "cancel/", {"reason": ""}, "cancel-reason", "This field is required."),
    "merge into an unknown reference": (
        _triage, "merge/", {"into": "INC-99"}, "id_into", "No incident INC-99 in Acme Inc."),
    "an empty update": (_live, "updates/", {"message": ""}, "id_message", "This field is required."),
    "details without a name": (_live, "details/", {"name": "", "summary": "Kept"}, "id_name",
                               "This field is required."),
    "a follow-up without a title": (_live, "follow-ups/", {"title": "", "priority": "high"}, "id_title",
                                    "This field is required."),
    "a debrief at no time": (_live, "debriefs/", {"scheduled_at": "soon", "duration_minutes": "30"},
                             "id_scheduled_at", "Enter a valid date/time."),
    "timestamps without the reported time": (_live, "timestamps/", {"reported_at": ""}, "id_reported_at",
                                             "This field is required."),
    "a follow-up due on no date": (_with_follow_up, "follow-ups/{follow_up}/due/", {"due_date": "someday"},
                                   "due-{follow_up}", "Enter a valid date."),
    "a follow-up snoozed into the past": (
        _with_follow_up, "follow-ups/{follow_up}/snooze/", {"until": "2020-01-01"},
        "snooze-{follow_up}-until", "in the future"),
    "a role given to an outsider": (_lead_role, "roles/", {"role": "{role}", "user": "{outsider}"},
                                    "role-{role}", "Select a valid choice."),
    "a task not done for too long a reason": (
        _flow, "tasks/{task}/not-doing/", {"reason": "x" * 5001}, "not-doing-{task}", "at most"),
    "stopping the flow without a reason": (_flow, "learning/opt-out/", {"opt_out_reason": ""},
                                           "flow-opt-out-reason", "This field is required."),
}


@pytest.mark.parametrize("case", CASES)
def test_a_refused_action_shows_its_error_next_to_the_field_on_a_page_that_reloads(
    case, acme, responder, outsider, signed_in
):
    setup, path, data, field_id, error = CASES[case]
    incident, ids = setup(acme, responder, outsider)
    client = signed_in(responder, acme)
    events = TimelineEvent.objects.filter(incident=incident).count()
    posted = {name: value.format(**ids) for name, value in data.items()}
    response = client.post(_url(incident, path.format(**ids)), posted)
    assert response["Location"].split("#")[0] == _url(incident)  # not the action's URL
    page = _landing(client, response)
    assert error in error_next_to(page, field_id.format(**ids))
    assert 'data-testid="action-error"' not in page  # not a banner
    assert TimelineEvent.objects.filter(incident=incident).count() == events  # nothing changed
    # What was typed is back in the field, for a text worth keeping.
    for value in posted.values():
        if len(value.strip()) > 3 and value.strip() not in ids.values():
            assert value in page
    # Shown once: the page read again is the page without the error.
    assert error_next_to(client.get(_url(incident)).content.decode(), field_id.format(**ids)) == ""


def test_a_failure_is_shown_on_its_own_page_only(acme, responder, signed_in):
    """Another incident's page (another tab) read in between does not show it, nor take it."""
    incident, other = _declare(acme, responder), _declare(acme, responder)
    client = signed_in(responder, acme)
    response = client.post(_url(incident, "cancel/"), {"reason": ""})
    assert error_next_to(client.get(_url(other)).content.decode(), "cancel-reason") == ""
    page = client.get(response["Location"]).content.decode()
    assert error_next_to(page, "cancel-reason") == "This field is required."


def test_an_error_whose_form_left_the_page_goes_at_its_top(acme, responder, signed_in):
    """Closed meanwhile (in another tab): the status select is gone, its error is not."""
    incident = incident_close(incident=_declare(acme, responder), actor=Actor.for_user(responder),
                              learning_flow="opt_out", opt_out_reason="Drill")
    client = signed_in(responder, acme)
    status = IncidentStatus.objects.get(org=acme, name="Fixing")
    page = _landing(client, client.post(_url(incident, "edit/"), {"status": str(status.public_id)}))
    assert 'data-testid="action-error"' in page and "its live status cannot change." in page


def test_a_members_role_refused_shows_next_to_that_member(acme, owner, admin, signed_in):
    client = signed_in(owner, acme)
    member = Membership.objects.get(org=acme, user=admin)
    response = client.post(f"/acme/settings/members/{member.public_id}/role/", {"role": "emperor"})
    assert response["Location"] == f"/acme/settings/members/#member-{member.public_id}"
    page = _landing(client, response)
    assert error_next_to(page, f"member-{member.public_id}-role") == "Choose one of the roles in the list."
    member.refresh_from_db()
    assert member.role != "emperor"


# --- The close prompt ------------------------------------------------------------------------------


def test_the_close_prompt_says_what_each_choice_does(acme, responder, signed_in):
    page = signed_in(responder, acme).get(_url(_declare(acme, responder))).content.decode()
    assert '<summary class="button wide">Close incident…</summary>' in page
    assert "Close and run the learning flow" in page
    assert "Closes the incident and moves it to Documenting." in page
    assert "Close without the learning flow" in page and "Why close without the learning flow?" in page
    assert "Run the learning flow?" not in page  # the old question, which did not say it closes


def test_an_org_name_ending_in_a_full_stop_ends_a_sentence_once(acme, responder, signed_in):
    assert acme.name == "Acme Inc."
    client = signed_in(responder, acme)
    page = _landing(client, client.post(_url(_declare(acme, responder, triage=True), "merge/"), {"into": "INC-99"}))
    assert "in Acme Inc." in page and "Acme Inc.." not in page


# --- Progress in the learning panel ----------------------------------------------------------------


def test_the_panel_shows_every_status_with_n_of_m_done(acme, responder, signed_in):
    incident = _in_flow(acme, responder)
    client = signed_in(responder, acme)
    page = client.get(_url(incident)).content.decode()
    steps = page[page.index('data-testid="flow-steps"'):page.index("</ol>", page.index('data-testid="flow-steps"'))]
    assert 'class="flow-step step-current" data-testid="flow-step" aria-current="step"' in steps
    assert "Documenting</span>" in steps and "current · 0 of 4 done" in steps
    assert 'class="flow-step step-upcoming"' in steps and "Reviewing</span>" in steps and "next · 4 tasks" in steps

    task = LearningTask.objects.filter(incident=incident, status=incident.status).order_by("rank").first()
    client.post(_url(incident, f"tasks/{task.public_id}/complete/"))
    assert "current · 1 of 4 done" in client.get(_url(incident)).content.decode()


def _finish_documenting_but_follow_ups(incident, user):
    """Addresses every Documenting task but "Create follow-ups" (which a follow-up completes)."""
    actor = Actor.for_user(user)
    documents.postmortem_create(incident=incident, actor=actor)
    for task in LearningTask.objects.filter(incident=incident, status=incident.status, state=TaskState.OUTSTANDING):
        if task.title != "Create follow-ups":
            task_services.task_complete(task=task, actor=actor)


def test_finishing_a_status_says_the_incident_is_moving_on_before_the_advance_ran(acme, responder, signed_in):
    """Here the advance job (run on commit) has not run by the redirect, as with a busy worker."""
    incident = _in_flow(acme, responder)
    _finish_documenting_but_follow_ups(incident, responder)
    client = signed_in(responder, acme)
    response = client.post(_url(incident, "follow-ups/"), {"title": "Add an alert", "priority": "high"})
    page = client.get(response["Location"]).content.decode()
    assert "Follow-up added. All Documenting tasks are done: the incident is moving to Reviewing." in page


@pytest.mark.django_db(transaction=True)
def test_finishing_a_status_says_the_incident_moved_when_it_has(acme, responder, signed_in, eager_celery):
    """Real commits and Celery in-process: the advance ran before the redirect."""
    incident = _in_flow(acme, responder)
    _finish_documenting_but_follow_ups(incident, responder)
    client = signed_in(responder, acme)
    response = client.post(_url(incident, "follow-ups/"), {"title": "Add an alert", "priority": "high"})
    page = client.get(response["Location"]).content.decode()
    assert "Follow-up added. All Documenting tasks are done: the incident moved to Reviewing." in page
    incident.refresh_from_db()
    assert incident.status.name == "Reviewing" and incident.learning_flow == LearningFlowState.RUNNING
    assert "current · 0 of 4 done" in page


def test_an_action_that_finishes_nothing_says_only_what_it_did(acme, responder, signed_in):
    incident = _in_flow(acme, responder)
    client = signed_in(responder, acme)
    task = LearningTask.objects.filter(incident=incident, status=incident.status).order_by("rank").first()
    page = client.get(client.post(_url(incident, f"tasks/{task.public_id}/complete/"))["Location"]).content.decode()
    assert "Task completed." in page and "tasks are done" not in page
