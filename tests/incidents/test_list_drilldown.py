"""The incidents list's drill-down filters (issue 19): the parameters the
Insights bars link with (docs/incidents.md, "Drill-down filters"), through
the dashboard's list as a browser asks for it.

Acme's clock is New York's: periods are its local days. Each test declares
the incidents it chooses between and asks which the list shows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents import queries
from incidentio.incidents.models import (
    FollowUp,
    FollowUpPriority,
    FollowUpStatus,
    Incident,
    IncidentStatus,
    LearningFlowState,
    Severity,
)
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningStatusVisit, LearningTask, TaskKind, TaskState, TaskTemplate
from orgs.models import Membership
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

LIST = "/acme/incidents/"
NEW_YORK = ZoneInfo("America/New_York")


def local(*args) -> datetime:
    """A moment on New York's clock."""
    return datetime(*args, tzinfo=NEW_YORK)


@pytest.fixture
def acme_ny(acme):
    acme.time_zone = "America/New_York"
    acme.save(update_fields=["time_zone"])
    return acme


@pytest.fixture
def client(acme_ny, responder, signed_in):
    return signed_in(responder, acme_ny)


@pytest.fixture
def declare(acme_ny, owner):
    """``declare(name, **columns)``: an Acme incident, its columns then set as given."""

    def make(name, *, org=None, actor=None, **columns) -> Incident:
        incident = incident_declare(org=org or acme_ny, actor=Actor.for_user(actor or owner), name=name)
        if columns:
            Incident.objects.filter(pk=incident.pk).update(**columns)
        return incident

    return make


def listed(response) -> list[str]:
    """The names the list shows, newest first; the page must be a 200 without errors."""
    body = response.content.decode()
    assert response.status_code == 200, body[:3000]
    assert 'class="flash flash-error"' not in body
    return [incident.name for incident in response.context["page"].incidents]


def refused(response, message: str) -> None:
    """A 400 naming the filter, listing nothing."""
    assert response.status_code == 400
    assert escape(message) in response.content.decode()
    assert response.context["page"].incidents == []


def chips(response) -> list[tuple[str, dict]]:
    """Each chip's text and the query its link leaves."""
    return [(chip.text, parse_qs(chip.remove_query)) for chip in response.context["chips"]]


def severity(org, name) -> Severity:
    return Severity.objects.get(org=org, name=name)


def status(org, name) -> IncidentStatus:
    return IncidentStatus.objects.get(org=org, name=name)


def template(org, title) -> TaskTemplate:
    return TaskTemplate.objects.get(org=org, title=title)


def membership(org, user) -> Membership:
    return Membership.objects.get(org=org, user=user)


# --- Reported and closed, in the org's time zone -------------------------------------------------


def test_reported_month_is_new_yorks_month(client, declare):
    # 23:59 in New York on 31 October is already November in UTC; DST ends on 1 November 2026.
    declare("Halloween night", reported_at=local(2026, 10, 31, 23, 59))
    declare("November's first minute", reported_at=local(2026, 11, 1, 0, 0))
    declare("November's last minute", reported_at=local(2026, 11, 30, 23, 59))
    declare("December's first minute", reported_at=local(2026, 12, 1, 0, 0))

    assert listed(client.get(LIST, {"reported": "2026-11"})) == ["November's last minute", "November's first minute"]
    assert listed(client.get(LIST, {"reported": "2026-10"})) == ["Halloween night"]
    assert listed(client.get(LIST, {"reported": "2026-12"})) == ["December's first minute"]


def test_reported_iso_week_runs_monday_to_sunday_local(client, declare):
    declare("Sunday before", reported_at=local(2026, 11, 1, 23, 59))
    declare("Monday midnight", reported_at=local(2026, 11, 2, 0, 0))
    declare("Sunday late", reported_at=local(2026, 11, 8, 23, 30))  # Monday 04:30 in UTC
    declare("Monday after", reported_at=local(2026, 11, 9, 0, 0))

    assert listed(client.get(LIST, {"reported": "2026-W45"})) == ["Sunday late", "Monday midnight"]


def test_reported_day_and_days(client, declare):
    declare("First", reported_at=local(2026, 11, 2, 9))
    declare("Second", reported_at=local(2026, 11, 3, 23, 59))
    declare("Third", reported_at=local(2026, 11, 4, 0, 1))

    assert listed(client.get(LIST, {"reported": "2026-11-03"})) == ["Second"]
    assert listed(client.get(LIST, {"reported": "2026-11-02..2026-11-03"})) == ["Second", "First"]


def test_closed_period_reads_closed_at(client, declare):
    declare("Closed in October", reported_at=local(2026, 10, 1), closed_at=local(2026, 10, 31, 23, 59))
    declare("Reported in October, closed in November", reported_at=local(2026, 10, 2),
            closed_at=local(2026, 11, 1, 0, 0))
    declare("Still open", reported_at=local(2026, 10, 3))

    assert listed(client.get(LIST, {"closed": "2026-11"})) == ["Reported in October, closed in November"]
    assert listed(client.get(LIST, {"closed": "2026-10"})) == ["Closed in October"]
    assert listed(client.get(LIST, {"reported": "2026-10", "closed": "2026-10"})) == ["Closed in October"]


# --- Severity none -------------------------------------------------------------------------------


def test_severity_none_alone_and_with_an_id_is_any_of(client, declare, acme_ny):
    declare("Unset")
    declare("Critical one", severity=severity(acme_ny, "Critical"))
    declare("Minor one", severity=severity(acme_ny, "Minor"))
    critical = str(severity(acme_ny, "Critical").public_id)

    assert listed(client.get(LIST, {"severity": "none"})) == ["Unset"]
    assert listed(client.get(LIST, {"severity": ["none", critical]})) == ["Critical one", "Unset"]
    assert listed(client.get(LIST, {"severity": [critical, "none"]})) == ["Critical one", "Unset"]
    assert listed(client.get(LIST, {"severity": critical})) == ["Critical one"]


# --- Opt-out reason and learning statuses ----------------------------------------------------------


def test_opt_out_reason_matches_the_trimmed_text_exactly(client, declare, acme_ny, outsider, globex):
    opted_out = {"learning_flow": LearningFlowState.OPTED_OUT}
    declare("Padded", opt_out_reason="  No customer impact\n", **opted_out)
    declare("Exact", opt_out_reason="No customer impact", **opted_out)
    declare("Longer", opt_out_reason="No customer impact at all", **opted_out)
    declare("Other case", opt_out_reason="no customer impact", **opted_out)
    # A reason left from an opt-out undone: the incident ran the flow after all.
    declare("Ran the flow", opt_out_reason="No customer impact", learning_flow=LearningFlowState.COMPLETED)
    declare("Theirs", org=globex, actor=outsider, opt_out_reason="No customer impact", **opted_out)

    assert listed(client.get(LIST, {"opt_out_reason": "No customer impact"})) == ["Exact", "Padded"]
    assert listed(client.get(LIST, {"opt_out_reason": " No customer impact "})) == ["Exact", "Padded"]


def test_visited_status_lists_the_incidents_that_entered_it(client, declare, acme_ny):
    documenting, reviewing = status(acme_ny, "Documenting"), status(acme_ny, "Reviewing")
    both = declare("Went through both")
    one = declare("Still documenting")
    declare("Never entered the flow")
    LearningStatusVisit.objects.create(incident=both, status=documenting, entered_at=local(2026, 11, 1),
                                       left_at=local(2026, 11, 2))
    LearningStatusVisit.objects.create(incident=both, status=reviewing, entered_at=local(2026, 11, 2))
    LearningStatusVisit.objects.create(incident=one, status=documenting, entered_at=local(2026, 11, 3))

    assert listed(client.get(LIST, {"visited_status": documenting.public_id})) == ["Still documenting",
                                                                                  "Went through both"]
    assert listed(client.get(LIST, {"visited_status": reviewing.public_id})) == ["Went through both"]


# --- Learning tasks: one task meets every task_* filter ---------------------------------------------


@pytest.fixture
def task(acme_ny):
    """``task(incident, template=None, **columns)``: a learning task of the incident in Documenting."""

    def make(incident, template=None, **columns) -> LearningTask:
        columns.setdefault("title", template.title if template else "By hand")
        return LearningTask.objects.create(
            org=acme_ny, incident=incident, status=status(acme_ny, "Documenting"), template=template,
            kind=TaskKind.CUSTOM, **columns,
        )

    return make


def test_task_filters_are_met_by_one_task(client, declare, task, acme_ny, responder):
    postmortem = template(acme_ny, "Create the post-mortem")
    timeline = template(acme_ny, "Review the incident timeline")
    # "Split": the post-mortem task is outstanding, another task is not done: no one task is both.
    split = declare("Split")
    task(split, postmortem)
    task(split, timeline, state=TaskState.NOT_DOING)
    skipped = declare("Skipped the post-mortem")
    task(skipped, postmortem, state=TaskState.NOT_DOING, not_doing_reason="Too small")
    by_hand = declare("Done by hand")
    task(by_hand, postmortem, state=TaskState.COMPLETED, assignee=responder)
    automatic = declare("Done automatically")
    task(automatic, postmortem, state=TaskState.COMPLETED, completed_automatically=True)
    added = declare("Task added by hand")
    task(added, None, state=TaskState.NOT_DOING)
    declare("No tasks")

    def tasks(**params):
        return listed(client.get(LIST, params))

    postmortem_id = str(postmortem.public_id)
    assert tasks(task_template=postmortem_id) == ["Done automatically", "Done by hand", "Skipped the post-mortem",
                                                  "Split"]
    assert tasks(task_template=postmortem_id, task_state="not_doing") == ["Skipped the post-mortem"]
    assert tasks(task_template=postmortem_id, task_state="outstanding") == ["Split"]
    assert tasks(task_template=postmortem_id, task_state="completed_by_hand") == ["Done by hand"]
    assert tasks(task_template=postmortem_id, task_state="completed_automatically") == ["Done automatically"]
    assert tasks(task_state="not_doing") == ["Task added by hand", "Skipped the post-mortem", "Split"]
    assert tasks(task_template="none") == ["Task added by hand"]
    assert tasks(task_template="none", task_state="outstanding") == []
    assert tasks(task_assignee=str(membership(acme_ny, responder).public_id)) == ["Done by hand"]
    assert tasks(task_template=postmortem_id, task_assignee="none") == ["Done automatically",
                                                                       "Skipped the post-mortem", "Split"]


def test_task_created_and_overdue(client, declare, task, acme_ny, responder):
    now = timezone.now()
    late = declare("Overdue task")
    task(late, due_at=now - timedelta(minutes=1), assignee=responder)
    due_later = declare("Due tomorrow")
    task(due_later, due_at=now + timedelta(days=1), assignee=responder)
    done_late = declare("Done after its due date")
    task(done_late, due_at=now - timedelta(days=2), state=TaskState.COMPLETED, assignee=responder)
    unassigned = declare("Overdue, nobody's")
    task(unassigned, due_at=now - timedelta(days=3))
    november = declare("Task of November")
    task(november, created_at=local(2026, 11, 30, 23, 59))
    december = declare("Task of December")
    task(december, created_at=local(2026, 12, 1, 0, 0))

    responder_id = str(membership(acme_ny, responder).public_id)
    assert listed(client.get(LIST, {"task_state": "overdue"})) == ["Overdue, nobody's", "Overdue task"]
    assert listed(client.get(LIST, {"task_state": "overdue", "task_assignee": responder_id})) == ["Overdue task"]
    assert listed(client.get(LIST, {"task_state": "overdue", "task_assignee": "none"})) == ["Overdue, nobody's"]
    assert listed(client.get(LIST, {"task_created": "2026-11"})) == ["Task of November"]
    assert listed(client.get(LIST, {"task_created": "2026-11", "task_state": "outstanding"})) == ["Task of November"]
    assert listed(client.get(LIST, {"task_created": "2026-11", "task_state": "not_doing"})) == []


# --- Follow-ups: one follow-up meets every follow_up_* filter ---------------------------------------


@pytest.fixture
def follow_up():
    def make(incident, **columns) -> FollowUp:
        return FollowUp.objects.create(incident=incident, title="Fix it", **columns)

    return make


def test_follow_up_created_and_completed_periods(client, declare, follow_up):
    follow_up(declare("Created in November"), created_at=local(2026, 11, 30, 23, 59))
    follow_up(declare("Created in December"), created_at=local(2026, 12, 1))
    follow_up(declare("Completed in November"), created_at=local(2026, 10, 1), status=FollowUpStatus.COMPLETED,
              completed_at=local(2026, 11, 1, 0, 0))
    # Its completed_at is in November, but it was not done after all.
    follow_up(declare("Not doing"), created_at=local(2026, 10, 1), status=FollowUpStatus.NOT_DOING,
              completed_at=local(2026, 11, 2))

    assert listed(client.get(LIST, {"follow_up_created": "2026-11"})) == ["Created in November"]
    assert listed(client.get(LIST, {"follow_up_completed": "2026-11"})) == ["Completed in November"]
    assert listed(client.get(LIST, {"follow_up_created": "2026-10", "follow_up_completed": "2026-11"})) == [
        "Completed in November"]


def test_follow_up_open_age_in_whole_days_and_priority(client, declare, follow_up):
    now = timezone.now()
    follow_up(declare("30 days 23 hours"), created_at=now - timedelta(days=30, hours=23),
              priority=FollowUpPriority.URGENT)
    follow_up(declare("31 days"), created_at=now - timedelta(days=31, minutes=1), priority=FollowUpPriority.HIGH)
    follow_up(declare("90 days 23 hours"), created_at=now - timedelta(days=90, hours=23),
              priority=FollowUpPriority.URGENT)
    follow_up(declare("91 days"), created_at=now - timedelta(days=91, minutes=1), priority=FollowUpPriority.LOW)
    follow_up(declare("Old but done"), created_at=now - timedelta(days=200), status=FollowUpStatus.COMPLETED,
              completed_at=now)
    # Two follow-ups, neither both open 0–30 days and Low.
    mixed = declare("Mixed")
    follow_up(mixed, created_at=now - timedelta(days=1), priority=FollowUpPriority.URGENT)
    follow_up(mixed, created_at=now - timedelta(days=100), priority=FollowUpPriority.LOW)

    def ages(**params):
        return listed(client.get(LIST, params))

    assert ages(follow_up_open_age="0-30") == ["Mixed", "30 days 23 hours"]
    assert ages(follow_up_open_age="31-90") == ["90 days 23 hours", "31 days"]
    assert ages(follow_up_open_age="91-") == ["Mixed", "91 days"]
    assert ages(follow_up_open_age="0-30", follow_up_priority="urgent") == ["Mixed", "30 days 23 hours"]
    assert ages(follow_up_open_age="0-30", follow_up_priority="low") == []
    assert ages(follow_up_open_age="91-", follow_up_priority="low") == ["Mixed", "91 days"]
    assert ages(follow_up_priority="high") == ["31 days"]


def test_follow_up_on_time(client, declare, follow_up):
    done = {"status": FollowUpStatus.COMPLETED}
    follow_up(declare("On the due minute"), due_at=local(2026, 11, 10, 17), completed_at=local(2026, 11, 10, 17),
              **done)
    follow_up(declare("A minute late"), due_at=local(2026, 11, 10, 17), completed_at=local(2026, 11, 10, 17, 1),
              **done)
    follow_up(declare("No due date"), completed_at=local(2026, 11, 10), **done)
    follow_up(declare("Late in October"), due_at=local(2026, 10, 1), completed_at=local(2026, 10, 31, 23), **done)
    follow_up(declare("Open and overdue"), due_at=local(2026, 10, 1))

    assert listed(client.get(LIST, {"follow_up_on_time": "yes"})) == ["On the due minute"]
    assert listed(client.get(LIST, {"follow_up_on_time": "no"})) == ["Late in October", "A minute late"]
    assert listed(client.get(LIST, {"follow_up_completed": "2026-11", "follow_up_on_time": "no"})) == [
        "A minute late"]


# --- Combined with each other and with the form's filters -------------------------------------------


def test_drilldowns_combine_with_each_other_and_the_form(client, declare, acme_ny, follow_up):
    critical = severity(acme_ny, "Critical")
    fixing = status(acme_ny, "Fixing")
    a = declare("Critical, November, follow-up", severity=critical, reported_at=local(2026, 11, 5), status=fixing)
    follow_up(a, created_at=local(2026, 11, 6))
    declare("Critical, November, no follow-up", severity=critical, reported_at=local(2026, 11, 6), status=fixing)
    b = declare("Unset, November, follow-up", reported_at=local(2026, 11, 7))
    follow_up(b, created_at=local(2026, 11, 8))
    declare("Critical, October", severity=critical, reported_at=local(2026, 10, 5))

    november = {"reported": "2026-11", "follow_up_created": "2026-11"}
    assert listed(client.get(LIST, november)) == ["Unset, November, follow-up", "Critical, November, follow-up"]
    assert listed(client.get(LIST, {**november, "severity": "none"})) == ["Unset, November, follow-up"]
    assert listed(client.get(LIST, {**november, "category": "live", "status": fixing.public_id})) == [
        "Critical, November, follow-up"]
    assert listed(client.get(LIST, {"reported": "2026-11", "q": "no follow-up"})) == [
        "Critical, November, no follow-up"]


# --- Chips, links and the form ---------------------------------------------------------------------------


def test_chips_name_each_drilldown_and_remove_it(client, declare, acme_ny, responder):
    postmortem = template(acme_ny, "Create the post-mortem")
    documenting = status(acme_ny, "Documenting")
    critical = str(severity(acme_ny, "Critical").public_id)
    query = {
        "reported": "2026-W45", "closed": "2026-11", "severity": ["none", critical],
        "opt_out_reason": "No customer impact", "visited_status": str(documenting.public_id),
        "task_template": str(postmortem.public_id), "task_state": "not_doing", "task_created": "2026-11-02",
        "task_assignee": str(membership(acme_ny, responder).public_id),
        "follow_up_open_age": "31-90", "follow_up_priority": "high", "learning_flow": "opted_out",
    }
    response = client.get(LIST, query)
    assert listed(response) == []
    name = responder.display_name
    assert [text for text, _ in chips(response)] == [
        "Reported in Week of 2 Nov 2026",
        "Closed in Nov 2026",
        "Opt-out reason: “No customer impact”",
        "Learning status visited: Documenting",
        "No severity",
        f"Task: Create the post-mortem · Not doing · created on 2 Nov 2026 · assigned to {name}",
        "Follow-up: open 31–90 days · High priority",
    ]
    remaining = dict(chips(response))
    everything = {key: value if isinstance(value, list) else [value] for key, value in query.items()}

    def without(*params):
        return {key: value for key, value in everything.items() if key not in params}

    assert remaining["Reported in Week of 2 Nov 2026"] == without("reported")
    assert remaining["No severity"] == {**without(), "severity": [critical]}
    assert remaining[f"Task: Create the post-mortem · Not doing · created on 2 Nov 2026 · assigned to {name}"] == (
        without("task_template", "task_state", "task_created", "task_assignee"))
    assert remaining["Follow-up: open 31–90 days · High priority"] == without("follow_up_open_age",
                                                                             "follow_up_priority")
    html = response.content.decode()
    assert escape("Opt-out reason: “No customer impact”") in html
    assert 'data-testid="filter-chip"' in html
    # The filter form keeps them when filtering further.
    assert '<input type="hidden" name="reported" value="2026-W45">' in html
    assert '<input type="hidden" name="severity" value="none">' in html


def test_a_chips_link_lists_without_that_filter(client, declare):
    declare("November", reported_at=local(2026, 11, 5), learning_flow=LearningFlowState.OPTED_OUT,
            opt_out_reason="Duplicate")
    declare("October", reported_at=local(2026, 10, 5), learning_flow=LearningFlowState.OPTED_OUT,
            opt_out_reason="Duplicate")
    response = client.get(LIST, {"reported": "2026-11", "opt_out_reason": "Duplicate"})
    assert listed(response) == ["November"]
    html = response.content.decode()
    chip = next(c for c in response.context["chips"] if c.text.startswith("Reported"))
    assert f'href="?{escape(chip.remove_query)}"' in html
    wider = client.get(LIST + "?" + chip.remove_query)
    assert listed(wider) == ["October", "November"]
    assert [text for text, _ in chips(wider)] == ["Opt-out reason: “Duplicate”"]


def test_a_task_of_someone_who_left_the_org_counts_as_nobodys(client, declare, task, acme_ny):
    """As Insights' "Unassigned" bar of overdue tasks by owner: the work has no owner in the org."""
    leaver = MembershipFactory(org=acme_ny).user
    late = declare("Overdue, its owner left")
    task(late, due_at=timezone.now() - timedelta(days=1), assignee=leaver)
    Membership.objects.filter(org=acme_ny, user=leaver).delete()

    assert listed(client.get(LIST, {"task_state": "overdue", "task_assignee": "none"})) == ["Overdue, its owner left"]


@pytest.mark.parametrize("task_template, text", [("none", "Task: Added by hand · Overdue"),
                                                 ("post-mortem", "Task: Create the post-mortem · Overdue")])
def test_task_chip_names_the_template_or_says_added_by_hand(client, acme_ny, task_template, text):
    value = task_template if task_template == "none" else str(template(acme_ny, "Create the post-mortem").public_id)
    response = client.get(LIST, {"task_template": value, "task_state": "overdue", "task_assignee": "none"})
    assert [t for t, _ in chips(response)] == [f"{text} · unassigned"]


def test_no_chips_without_drilldowns(client, declare):
    declare("Anything")
    response = client.get(LIST, {"category": "live", "q": ""})
    assert listed(response) == ["Anything"]
    assert response.context["chips"] == []
    assert 'data-testid="drilldown-filters"' not in response.content.decode()


def test_the_next_page_keeps_the_drilldowns(client, declare):
    for day in range(1, 29):
        declare(f"November {day}", reported_at=local(2026, 11, day, 12))
    declare("December", reported_at=local(2026, 12, 1, 12))
    first = client.get(LIST, {"reported": "2026-11", "severity": "none"})
    assert len(listed(first)) == 25
    link = first.context["next_query"]
    assert parse_qs(link)["reported"] == ["2026-11"] and parse_qs(link)["severity"] == ["none"]
    assert f'href="?{escape(link)}"' in first.content.decode()
    second = client.get(LIST + "?" + link)
    assert listed(second) == ["November 3", "November 2", "November 1"]
    # A chip's link starts from the first page again.
    assert all("after" not in query for _, query in chips(second))


# --- Refused values ---------------------------------------------------------------------------------


@pytest.mark.parametrize("param, value, message", [
    ("reported", "2026-13", "Reported: “2026-13” is not a month: use a month (2026-11)"),
    ("reported", "last week", "Reported: “last week” is not a date"),
    ("closed", "2026-W54", "Closed: “2026-W54” is not an ISO week"),
    ("closed", "2026-11-30..2026-11-01", "Closed: “2026-11-30..2026-11-01” ends before it starts."),
    ("task_created", "9999-12-31", "Task created: “9999-12-31” is out of range."),
    ("follow_up_created", "2026-02-30", "Follow-up created: “2026-02-30” is not a date"),
    ("follow_up_completed", "x" * 41, "Follow-up completed: Ensure this value has at most 40 characters"),
    ("severity", "None", "Severity: Select a valid choice. None is not one of the available choices."),
    ("task_state", "done", "Task state: Select a valid choice. done is not one of the available choices."),
    ("follow_up_open_age", "0-31", "Follow-up open for: Select a valid choice. 0-31 is not one of"),
    ("follow_up_priority", "critical", "Follow-up priority: Select a valid choice. critical is not one of"),
    ("follow_up_on_time", "maybe", "Follow-up on time: Select a valid choice. maybe is not one of"),
    ("visited_status", "not-an-id", "Learning status visited: Unknown learning status in this organization."),
    ("visited_status", "none", "Learning status visited: Unknown learning status in this organization."),
    ("task_template", "6f1c1f8e-0000-4000-8000-000000000000", "Task template: Unknown task template in this"),
    ("task_assignee", "42", "Task assignee: Unknown member in this organization."),
])
def test_a_bad_value_is_refused_by_name_and_lists_nothing(client, declare, param, value, message):
    declare("Listed unless refused", reported_at=local(2026, 11, 5))
    response = client.get(LIST, {param: value, "reported": "2026-11"} if param != "reported" else {param: value})
    refused(response, message)
    assert response.context["chips"] == []


def test_a_live_status_is_not_a_learning_status(client, acme_ny):
    refused(client.get(LIST, {"visited_status": status(acme_ny, "Fixing").public_id}),
            "Learning status visited: Unknown learning status in this organization.")


@pytest.mark.parametrize("param", ["visited_status", "task_template", "task_assignee"])
def test_another_orgs_ids_are_refused(client, declare, globex, outsider, param):
    declare("Ours")
    theirs = {
        "visited_status": lambda: status(globex, "Documenting").public_id,
        "task_template": lambda: template(globex, "Create the post-mortem").public_id,
        "task_assignee": lambda: membership(globex, outsider).public_id,
    }[param]()
    response = client.get(LIST, {param: theirs})
    refused(response, "in this organization.")


def test_every_bad_drilldown_is_named_at_once(client):
    response = client.get(LIST, {"reported": "soon", "task_state": "done", "task_template": "nope"})
    assert response.status_code == 400
    assert response.context["errors"] == [
        "Reported: “soon” is not a date: use a month (2026-11), an ISO week (2026-W45), a day (2026-11-02) "
        "or days (2026-11-02..2026-11-30).",
        "Task template: Unknown task template in this organization.",
        "Task state: Select a valid choice. done is not one of the available choices.",
    ]


# --- Queries -------------------------------------------------------------------------------------------------


def _queries(client, params, django_assert_max_num_queries, bound=40) -> int:
    with django_assert_max_num_queries(bound) as captured:
        response = client.get(LIST, params)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_query_count_without_drilldowns_is_unchanged_and_bounded_with_them(
    client, declare, task, follow_up, acme_ny, responder, django_assert_max_num_queries
):
    incident = declare("Some", reported_at=local(2026, 11, 5))
    task(incident, assignee=responder)
    follow_up(incident)
    # Each first: the page's statement with those conditions is prepared once per connection.
    _queries(client, {}, django_assert_max_num_queries)
    plain = _queries(client, {}, django_assert_max_num_queries)
    _queries(client, {"reported": "2026-11", "closed": "2026-11"}, django_assert_max_num_queries)
    assert _queries(client, {"reported": "2026-11", "closed": "2026-11"}, django_assert_max_num_queries) == plain
    named = {
        "visited_status": str(status(acme_ny, "Documenting").public_id),
        "task_template": str(template(acme_ny, "Create the post-mortem").public_id),
        "task_assignee": str(membership(acme_ny, responder).public_id),
        "task_state": "overdue", "follow_up_open_age": "0-30", "severity": "none", "opt_out_reason": "x",
    }
    _queries(client, named, django_assert_max_num_queries)
    # The three named objects are looked up in one query.
    assert _queries(client, named, django_assert_max_num_queries) == plain + 1
    for i in range(20):
        more = declare(f"More {i}", reported_at=local(2026, 11, 6))
        task(more, assignee=responder)
        follow_up(more)
    assert _queries(client, named, django_assert_max_num_queries) == plain + 1


# --- The names the core uses for the learning app's tables ---------------------------------------


def test_the_learning_tables_are_named_as_the_learning_app_names_them():
    assert queries.LEARNING_TASK_TABLE == LearningTask._meta.db_table
    assert queries.TASK_TEMPLATE_TABLE == TaskTemplate._meta.db_table
    assert queries.LEARNING_VISIT_TABLE == LearningStatusVisit._meta.db_table
    states = {value for _condition, values in queries._TASK_STATES.values()
              for value in values(datetime(2026, 1, 1, tzinfo=UTC)) if isinstance(value, str)}
    assert states <= set(TaskState.values)
