"""Due dates through the real entry points (docs/learning-flow.md, "Due dates").

The org's working calendar is set on its settings page; incidents are closed
into the flow through the API after their resolution time was set on the
dashboard, and the tasks' and follow-ups' due dates are read back through the
API and the pages people look at.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from incidentio.common.actors import Actor
from incidentio.incidents.models import FollowUp, Incident, Severity
from incidentio.incidents.services.incidents import incident_declare
from learning.models import FollowUpDueRule, LearningTask
from orgs.calendar import add_business_days
from orgs.models import Holiday, Organization
from tests.api_learning.conftest import ApiClient
from tests.form_errors import error_next_to

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
# Friday 6 March 2026, 15:00 in New York (EST); the clocks go forward on Sunday 8 March.
FRIDAY_BEFORE_DST = datetime(2026, 3, 6, 15, 0, tzinfo=NEW_YORK)


@pytest.fixture(autouse=True)
def _celery_in_process(eager_celery):
    """The advance runs on commit through Celery; in-process here."""


@pytest.fixture
def api(acme, make_key) -> ApiClient:
    from orgs.models import ApiKeyRole

    return ApiClient(make_key(acme, ApiKeyRole.VIEWER, ApiKeyRole.INCIDENT_EDITOR))


@pytest.fixture
def make_key():
    from orgs.services import api_key_create

    def make(org, *roles):
        return api_key_create(org=org, name="tests", roles=list(roles), created_by=None)[1]

    return make


@pytest.fixture
def admin_client(admin, acme, signed_in):
    return signed_in(admin, acme)


def _declare(org, user, name="Checkout is down") -> Incident:
    return incident_declare(org=org, actor=Actor.for_user(user), name=name,
                            severity=Severity.objects.get(org=org, name="Minor"), lead=user)


def _set_calendar(client, *, time_zone="America/New_York", working_days=(0, 1, 2, 3, 4)):
    response = client.post("/acme/settings/calendar/", {"time_zone": time_zone, "working_days": list(working_days)})
    assert response.status_code == 302, response.content.decode()[:3000]


def _add_holiday(client, day: date, name="Day off"):
    response = client.post("/acme/settings/calendar/", {"action": "holiday", "date": day.isoformat(), "name": name})
    assert response.status_code == 302, response.content.decode()[:3000]


def _set_resolved(client, incident: Incident, resolved: datetime):
    """The dashboard's timestamps form, keeping the reported time. It takes local
    time: a client without a browser zone or a preference gets the org's, New York."""
    local = "%Y-%m-%dT%H:%M"
    response = client.post(f"/acme/incidents/{incident.public_id}/timestamps/", {
        "reported_at": incident.reported_at.astimezone(NEW_YORK).strftime(local),
        "accepted_at": incident.accepted_at.astimezone(NEW_YORK).strftime(local),
        "resolved_at": resolved.astimezone(NEW_YORK).strftime(local),
    })
    assert response.status_code == 302, response.content.decode()[:3000]


def _close_into_flow(api, incident: Incident, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"incidents/{incident.public_id}/actions/close", {"learning_flow": "run"})
    assert response.status_code == 200, response.content


def _api_tasks(api, **params) -> dict[str, dict]:
    response = api.get("learning_tasks", params)
    assert response.status_code == 200, response.content
    return {task["title"]: task for task in response.json()["learning_tasks"]}


def _utc(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


# --- Tasks ------------------------------------------------------------------------------------------


def test_task_due_dates_count_business_days_over_a_weekend_a_holiday_and_a_dst_change(
    acme, admin, admin_client, api, django_capture_on_commit_callbacks
):
    _set_calendar(admin_client)
    _add_holiday(admin_client, date(2026, 3, 11), "Founders' day")
    incident = _declare(acme, admin)
    _set_resolved(admin_client, incident, FRIDAY_BEFORE_DST)
    _close_into_flow(api, incident, django_capture_on_commit_callbacks)

    tasks = _api_tasks(api, incident_id=str(incident.public_id))
    # 5 business days after Friday 15:00 EST: Mon 9, Tue 10, (Wed 11 off), Thu 12, Fri 13, Mon 16,
    # at 15:00 on the wall clock, now EDT: 19:00 UTC rather than 20:00.
    expected = datetime(2026, 3, 16, 19, 0, tzinfo=UTC)
    assert _utc(tasks["Create the post-mortem"]["due_at"]) == expected
    assert _utc(tasks["Create follow-ups"]["due_at"]) == expected
    assert tasks["Review the incident timeline"]["due_at"] is None  # no rule, no due date
    assert tasks["Review the incident timeline"]["overdue"] is False
    # Long past: outstanding and overdue.
    assert tasks["Create the post-mortem"]["overdue"] is True


def test_a_task_due_after_creation_counts_from_when_it_was_created(acme, owner, api,
                                                                    django_capture_on_commit_callbacks):
    incident = _declare(acme, owner)
    _close_into_flow(api, incident, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        for task in LearningTask.objects.filter(incident=incident, state="outstanding"):
            assert api.post(f"learning_tasks/{task.public_id}/actions/complete").status_code == 200
    debrief = _api_tasks(api, incident_id=str(incident.public_id))["Schedule the debrief"]  # Reviewing
    assert _utc(debrief["due_at"]) == add_business_days(acme, _utc(debrief["created_at"]), 5)


def test_new_orgs_get_default_due_rules_and_existing_rules_drive_new_tasks(acme):
    assert dict(FollowUpDueRule.objects.filter(org=acme).values_list("priority", "due_days")) == {
        "urgent": 3, "high": 10, "medium": 20,
    }
    templates = {t.title: (t.due_days, t.due_from) for t in acme.task_templates.all()}
    assert templates["Create the post-mortem"] == (5, "incident_resolved")
    assert templates["Schedule the debrief"] == (5, "task_created")
    assert templates["Mark the post-mortem as complete"] == (10, "incident_resolved")
    assert templates["Share the post-mortem"][0] is None


# --- Follow-ups -------------------------------------------------------------------------------------


def _create_follow_up(api, incident, **body) -> dict:
    response = api.post(f"incidents/{incident.public_id}/follow_ups", {"title": "Add an alert", **body})
    assert response.status_code == 201, response.content
    return response.json()["follow_up"]


def _follow_up(api, follow_up_id) -> dict:
    return api.get(f"follow_ups/{follow_up_id}").json()["follow_up"]


def test_a_follow_up_created_while_live_gets_its_date_when_the_incident_is_resolved(
    acme, owner, api, django_capture_on_commit_callbacks
):
    incident = _declare(acme, owner)
    urgent = _create_follow_up(api, incident, priority="urgent")
    low = _create_follow_up(api, incident, priority="low", title="Tidy the runbook")
    assert urgent["due_at"] is None and urgent["overdue"] is False and urgent["due_set_by_hand"] is False

    _close_into_flow(api, incident, django_capture_on_commit_callbacks)
    incident.refresh_from_db()
    assert _utc(_follow_up(api, urgent["id"])["due_at"]) == add_business_days(acme, incident.resolved_at, 3)
    assert _follow_up(api, low["id"])["due_at"] is None  # Low has no rule


def test_a_follow_up_created_after_resolution_counts_from_its_creation(
    acme, owner, admin_client, api, django_capture_on_commit_callbacks
):
    incident = _declare(acme, owner)
    _set_resolved(admin_client, incident, FRIDAY_BEFORE_DST)
    _close_into_flow(api, incident, django_capture_on_commit_callbacks)

    high = _create_follow_up(api, incident, priority="high")
    created = _utc(high["created_at"])
    assert _utc(high["due_at"]) == add_business_days(acme, created, 10)
    assert high["overdue"] is False


def test_changing_the_priority_recomputes_unless_set_by_hand(acme, owner, api, django_capture_on_commit_callbacks):
    incident = _declare(acme, owner)
    _close_into_flow(api, incident, django_capture_on_commit_callbacks)
    incident.refresh_from_db()
    follow_up = _create_follow_up(api, incident, priority="medium")
    start = _utc(follow_up["created_at"])
    assert _utc(follow_up["due_at"]) == add_business_days(acme, start, 20)

    updated = api.post(f"follow_ups/{follow_up['id']}/actions/update", {"priority": "urgent"}).json()["follow_up"]
    assert _utc(updated["due_at"]) == add_business_days(acme, start, 3)
    updated = api.post(f"follow_ups/{follow_up['id']}/actions/update", {"priority": "low"}).json()["follow_up"]
    assert updated["due_at"] is None

    by_hand = "2031-05-06T17:00:00Z"
    updated = api.post(f"follow_ups/{follow_up['id']}/actions/update", {"due_at": by_hand}).json()["follow_up"]
    assert (updated["due_at"], updated["due_set_by_hand"]) == (by_hand, True)
    updated = api.post(f"follow_ups/{follow_up['id']}/actions/update", {"priority": "urgent"}).json()["follow_up"]
    assert updated["due_at"] == by_hand  # a date set by hand stays

    # null returns it to the policy.
    updated = api.post(f"follow_ups/{follow_up['id']}/actions/update", {"due_at": None}).json()["follow_up"]
    assert updated["due_set_by_hand"] is False
    assert _utc(updated["due_at"]) == add_business_days(acme, start, 3)


def test_a_follow_up_created_with_a_due_date_by_hand_keeps_it(acme, owner, api, django_capture_on_commit_callbacks):
    incident = _declare(acme, owner)
    created = _create_follow_up(api, incident, priority="urgent", due_at="2031-01-02T09:00:00+01:00")
    assert (created["due_at"], created["due_set_by_hand"]) == ("2031-01-02T08:00:00Z", True)
    _close_into_flow(api, incident, django_capture_on_commit_callbacks)
    assert _follow_up(api, created["id"])["due_at"] == "2031-01-02T08:00:00Z"


def test_a_malformed_due_date_is_refused_and_changes_nothing(acme, owner, api):
    incident = _declare(acme, owner)
    response = api.post(f"incidents/{incident.public_id}/follow_ups", {"title": "x", "due_at": "next tuesday"})
    assert response.status_code == 422
    assert [e["source"]["field"] for e in response.json()["errors"]] == ["due_at"]
    assert not FollowUp.objects.filter(incident=incident).exists()


def test_set_a_follow_up_due_date_by_hand_on_the_dashboard(acme, owner, admin_client, signed_in):
    acme.time_zone = "Europe/Berlin"
    acme.save()
    incident = _declare(acme, owner)
    client = signed_in(owner, acme)
    response = client.post(f"/acme/incidents/{incident.public_id}/follow-ups/", {
        "title": "Add an alert", "priority": "urgent", "due_date": "2031-07-08",
    })
    assert response.status_code == 302
    follow_up = FollowUp.objects.get(incident=incident)
    # By the end of that day in Berlin (CEST, +2).
    assert follow_up.due_at == datetime(2031, 7, 8, 21, 59, tzinfo=UTC) and follow_up.due_set_by_hand
    page = client.get(f"/acme/incidents/{incident.public_id}/").content.decode()
    assert "Due Tue 8 Jul 2031" in page and "(set by hand)" in page

    # Emptied: back to the policy (the incident is live: no date yet).
    response = client.post(f"/acme/incidents/{incident.public_id}/follow-ups/{follow_up.public_id}/due/",
                           {"due_date": ""})
    assert response.status_code == 302
    follow_up.refresh_from_db()
    assert (follow_up.due_at, follow_up.due_set_by_hand) == (None, False)

    response = client.post(f"/acme/incidents/{incident.public_id}/follow-ups/{follow_up.public_id}/due/",
                           {"due_date": "not a date"})
    assert response.status_code == 303  # back to the incident page, the error next to the date
    page = client.get(response["Location"]).content.decode()
    assert error_next_to(page, f"due-{follow_up.public_id}") == "Enter a valid date."
    follow_up.refresh_from_db()
    assert follow_up.due_at is None


def test_the_incident_page_marks_overdue_work_in_words(acme, owner, admin_client, api, signed_in,
                                                        django_capture_on_commit_callbacks):
    incident = _declare(acme, owner)
    _set_resolved(admin_client, incident, FRIDAY_BEFORE_DST)
    _close_into_flow(api, incident, django_capture_on_commit_callbacks)
    _create_follow_up(api, incident, priority="urgent", due_at="2026-03-10T12:00:00Z")
    page = signed_in(owner, acme).get(f"/acme/incidents/{incident.public_id}/").content.decode()
    assert '<span class="due overdue" data-testid="due"' in page
    assert "⚠ Overdue by " in page
    assert page.count('data-testid="due"') == 3  # two tasks with a rule, one follow-up


# --- API filters and sort ---------------------------------------------------------------------------


def test_task_list_filters_and_sorts_by_due_date_across_pages(acme, owner, admin_client, api,
                                                              django_capture_on_commit_callbacks):
    incident = _declare(acme, owner)
    _set_resolved(admin_client, incident, FRIDAY_BEFORE_DST)
    _close_into_flow(api, incident, django_capture_on_commit_callbacks)
    tasks = LearningTask.objects.filter(incident=incident)
    # Four tasks: two due on 16 March (the rule), one later (set here), one with no due date.
    later = tasks.get(title="Update timestamps")
    later.due_at = datetime(2040, 1, 1, tzinfo=UTC)
    later.save()

    def titles(**params):
        response = api.get("learning_tasks", params)
        assert response.status_code == 200, response.content
        return [t["title"] for t in response.json()["learning_tasks"]]

    assert set(titles(overdue="true")) == {"Create the post-mortem", "Create follow-ups"}
    assert set(titles(overdue="false")) == {"Update timestamps", "Review the incident timeline"}
    assert titles(due_after="2030-01-01T00:00:00Z") == ["Update timestamps"]
    assert set(titles(due_before="2030-01-01T00:00:00Z")) == {"Create the post-mortem", "Create follow-ups"}

    soonest = titles(sort="due_at")
    assert soonest[2:] == ["Update timestamps", "Review the incident timeline"]  # no due date last
    latest = titles(sort="-due_at")
    assert latest[0] == "Update timestamps" and latest[-1] == "Review the incident timeline"

    # Page by page, one task a page, the same order and nothing twice.
    walked, after = [], None
    while True:
        params = {"sort": "due_at", "page_size": 1, **({"after": after} if after else {})}
        body = api.get("learning_tasks", params).json()
        walked += [t["title"] for t in body["learning_tasks"]]
        after = body["pagination_meta"]["after"]
        if after is None:
            break
    assert walked == soonest

    for bad in ({"overdue": "yes"}, {"sort": "due"}, {"due_before": "soon"}):
        response = api.get("learning_tasks", bad)
        assert response.status_code == 422
        assert [e["source"]["field"] for e in response.json()["errors"]] == list(bad)


def test_follow_up_list_filters_and_sorts_by_due_date(acme, owner, api):
    incident = _declare(acme, owner)
    past = _create_follow_up(api, incident, title="Past", due_at="2020-01-01T00:00:00Z")
    future = _create_follow_up(api, incident, title="Future", due_at="2040-01-01T00:00:00Z")
    _create_follow_up(api, incident, title="None")  # live incident: no date yet
    api.post(f"follow_ups/{past['id']}/actions/complete")
    done_late = _create_follow_up(api, incident, title="Late", due_at="2021-01-01T00:00:00Z")

    def titles(**params):
        response = api.get(f"incidents/{incident.public_id}/follow_ups", params)
        assert response.status_code == 200, response.content
        return [f["title"] for f in response.json()["follow_ups"]]

    assert titles(overdue="true") == ["Late"]  # "Past" is completed: not overdue
    assert titles(sort="due_at") == ["Past", "Late", "Future", "None"]
    assert titles(sort="-due_at") == ["Future", "Late", "Past", "None"]
    assert titles(due_after="2020-06-01T00:00:00Z", due_before="2030-01-01T00:00:00Z") == ["Late"]
    assert _follow_up(api, done_late["id"])["overdue"] is True
    assert _follow_up(api, future["id"])["overdue"] is False


# --- My tasks ---------------------------------------------------------------------------------------


def test_my_tasks_sorts_by_due_date_and_marks_overdue(acme, owner, admin_client, api, signed_in,
                                                      django_capture_on_commit_callbacks, django_assert_max_num_queries):
    first = _declare(acme, owner, "Search is slow")
    _set_resolved(admin_client, first, FRIDAY_BEFORE_DST)
    _close_into_flow(api, first, django_capture_on_commit_callbacks)
    second = _declare(acme, owner, "Queue backlog")
    _close_into_flow(api, second, django_capture_on_commit_callbacks)
    client = signed_in(owner, acme)

    page = client.get("/acme/tasks/?sort=due")
    rows = page.context["page"].tasks
    dues = [row.due_at for row in rows]
    with_due = [d for d in dues if d is not None]
    assert with_due == sorted(with_due) and dues[len(with_due):] == [None] * (len(dues) - len(with_due))
    assert rows[0].incident_id == first.pk  # March's overdue tasks first
    html = page.content.decode()
    assert html.count('class="due overdue"') == 2 and "⚠ Overdue by " in html

    with django_assert_max_num_queries(12):
        client.get("/acme/tasks/?sort=due")


def test_my_tasks_pages_by_due_date(acme, owner, signed_in, api, django_capture_on_commit_callbacks, monkeypatch):
    monkeypatch.setattr("learning.views.MY_TASKS_PAGE_SIZE", 3)
    for name in ("One", "Two"):
        _close_into_flow(api, _declare(acme, owner, name), django_capture_on_commit_callbacks)
    client = signed_in(owner, acme)
    mine = LearningTask.objects.filter(assignee=owner, state="outstanding")
    everything = [t.pk for t in sorted(mine, key=lambda t: (t.due_at is None, t.due_at or 0, t.pk))]
    assert len(everything) > 3 and any(t.due_at is None for t in mine)
    walked, query = [], "sort=due"
    while True:
        response = client.get(f"/acme/tasks/?{query}")
        walked += [row.pk for row in response.context["page"].tasks]
        if response.context["next_query"] is None:
            break
        query = response.context["next_query"]
    assert walked == everything
    newest_link = client.get("/acme/tasks/").context["next_query"]
    if newest_link:
        assert client.get(f"/acme/tasks/?{newest_link}&sort=due").status_code == 400


# --- Settings pages ---------------------------------------------------------------------------------


def test_calendar_settings_page_explains_itself_and_saves(acme, admin_client):
    page = admin_client.get("/acme/settings/calendar/").content.decode()
    assert "A task due 2 business days after Friday 15:00 is due Tuesday 15:00" in page
    assert '<option value="Europe/Berlin">' in page
    _set_calendar(admin_client, time_zone="Asia/Jerusalem", working_days=(6, 0, 1, 2, 3))
    acme.refresh_from_db()
    assert (acme.time_zone, acme.working_days) == ("Asia/Jerusalem", [0, 1, 2, 3, 6])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"time_zone": "Mars/Olympus_Mons", "working_days": [0, 1]}, "is not a time zone"),
        ({"time_zone": "Europe/Berlin"}, "Choose at least one working day."),
        ({"time_zone": "Europe/Berlin", "working_days": [9]}, "Select a valid choice"),
    ],
    ids=["bad-time-zone", "no-working-day", "bad-weekday"],
)
def test_bad_calendar_settings_are_a_clear_error_and_change_nothing(acme, admin_client, data, message):
    response = admin_client.post("/acme/settings/calendar/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    acme.refresh_from_db()
    assert (acme.time_zone, acme.working_days) == ("UTC", [0, 1, 2, 3, 4])


def test_holidays_are_added_listed_and_deleted(acme, admin_client):
    _add_holiday(admin_client, date(2026, 12, 25), "Christmas")
    assert "Christmas" in admin_client.get("/acme/settings/calendar/").content.decode()
    twice = admin_client.post("/acme/settings/calendar/", {"action": "holiday", "date": "2026-12-25", "name": "x"})
    assert twice.status_code == 400 and "already a holiday" in twice.content.decode()
    assert admin_client.post("/acme/settings/calendar/holidays/2026-12-25/delete/").status_code == 302
    assert not Holiday.objects.filter(org=acme).exists()


def test_another_orgs_holiday_is_a_404(acme, globex, admin_client):
    Holiday.objects.create(org=globex, date=date(2026, 7, 4), name="Independence Day")
    assert admin_client.post("/acme/settings/calendar/holidays/2026-07-04/delete/").status_code == 404
    assert admin_client.post("/acme/settings/calendar/holidays/not-a-date/delete/").status_code == 404
    assert Holiday.objects.filter(org=globex).exists()


def test_only_admins_see_the_calendar_and_due_date_settings(acme, responder, signed_in):
    client = signed_in(responder, acme)
    assert client.get("/acme/settings/calendar/").status_code == 403
    assert client.post("/acme/settings/calendar/", {"time_zone": "Europe/Berlin", "working_days": [0]}).status_code == 403
    assert client.get("/acme/settings/follow-up-due-dates/").status_code == 403
    assert Organization.objects.get(pk=acme.pk).time_zone == "UTC"


def test_follow_up_due_settings_page(acme, admin_client):
    page = admin_client.get("/acme/settings/follow-up-due-dates/")
    assert page.status_code == 200 and 'value="3"' in page.content.decode()
    response = admin_client.post("/acme/settings/follow-up-due-dates/", {
        "due_days_urgent": "2", "due_days_high": "", "due_days_medium": "15", "due_days_low": "40",
    })
    assert response.status_code == 302
    assert dict(FollowUpDueRule.objects.filter(org=acme).values_list("priority", "due_days")) == {
        "urgent": 2, "medium": 15, "low": 40,
    }
    bad = admin_client.post("/acme/settings/follow-up-due-dates/", {"due_days_urgent": "-1"})
    assert bad.status_code == 400
    assert FollowUpDueRule.objects.get(org=acme, priority="urgent").due_days == 2
