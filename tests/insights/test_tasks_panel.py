"""The Tasks panel (insights/panels/tasks.py): each chart's rows, exactly, from
tasks with known timestamps in an org on New York time (docs/insights.md, "Tasks")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from django.http import QueryDict

from incidentio.incidents.models import Incident, IncidentStatus, IncidentType, Severity, StatusCategory
from insights.filters import COUNTED_CATEGORIES, insight_filters_parse
from insights.panels import tasks
from learning.models import LearningFlow, LearningTask, TaskState, TaskTemplate
from orgs.models import Membership
from tests.factories import MembershipFactory, UserFactory
from tests.insights.incident_rows import incident_in_category as incident

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 12, 15, 17, 0, tzinfo=UTC)
NOVEMBER = "from=2026-11-01&to=2026-11-30"
LIST = "/acme/incidents/?"


def local(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


def template(org, title, flow=None) -> TaskTemplate:
    status = IncidentStatus.objects.filter(org=org, category=StatusCategory.LEARNING).first()
    return TaskTemplate.objects.create(org=org, flow=flow or LearningFlow.objects.get(org=org, is_default=True),
                                       status=status, title=title)


def task(of: Incident, created_at, template=None, state=TaskState.OUTSTANDING, **fields) -> LearningTask:
    status = IncidentStatus.objects.filter(org=of.org, category=StatusCategory.LEARNING).first()
    return LearningTask.objects.create(org=of.org, incident=of, status=status, template=template, state=state,
                                       title=template.title if template else "Call the vendor", kind="custom",
                                       created_at=created_at, **fields)


def filters(org, query=NOVEMBER):
    return insight_filters_parse(org, QueryDict(query), today=date(2026, 12, 15))


def chart(org, chart_id, query=NOVEMBER, now=NOW):
    return tasks.panel(org, filters(org, query), now=now).chart(chart_id)


def link(**params) -> str:
    """The incidents list behind a bar: its own filters, the counted categories, then the page's type and severity."""
    page = [(name, params.pop(name)) for name in ("incident_type", "severity") if name in params]
    return LIST + urlencode([*params.items(), *[("category", c) for c in COUNTED_CATEGORIES], *page])


# --- Tasks by template -----------------------------------------------------------------


def test_tasks_by_template_counts_each_outcome_of_the_tasks_created_in_the_range(org, globex):
    timeline, debrief = template(org, "Write the timeline"), template(org, "Hold the debrief")
    closed = incident(org)
    for _ in range(2):
        task(closed, local(2026, 11, 3, 9), timeline, TaskState.COMPLETED)
    task(closed, local(2026, 11, 3, 9), timeline, TaskState.COMPLETED, completed_automatically=True)
    task(closed, local(2026, 11, 3, 9), timeline, TaskState.NOT_DOING, not_doing_reason="Covered elsewhere")
    # The last minute of the range's last local day (already December in UTC) counts...
    task(closed, local(2026, 11, 30, 23, 59), debrief)
    # ...the first minute after it does not, nor the last one before it (November in UTC).
    task(closed, local(2026, 12, 1, 0, 0), debrief)
    task(closed, local(2026, 10, 31, 23, 59), debrief)
    task(closed, local(2026, 11, 10), None, TaskState.COMPLETED)
    task(closed, local(2026, 11, 11), None)
    # Only a completed task is completed automatically, whatever flag a row carries.
    task(closed, local(2026, 11, 12), None, completed_automatically=True)
    # Incidents that were not incidents after all, and another org's, count nowhere.
    for category in (StatusCategory.DECLINED, StatusCategory.MERGED, StatusCategory.CANCELED):
        task(incident(org, category), local(2026, 11, 5), timeline, TaskState.COMPLETED)
    task(incident(globex), local(2026, 11, 5), template(globex, "Write the timeline"), TaskState.COMPLETED)

    rows = chart(org, "tasks_by_template").rows

    def row(name, outcome, n, template_id):
        return {"template": name, "outcome": outcome, "tasks": n,
                "link": link(task_template=template_id, task_state=outcome.lower().replace(" ", "_"),
                             task_created="2026-11")}

    assert rows == [
        row("Write the timeline", "Completed by hand", 2, timeline.public_id),
        row("Write the timeline", "Completed automatically", 1, timeline.public_id),
        row("Write the timeline", "Not doing", 1, timeline.public_id),
        row("Added by hand", "Completed by hand", 1, "none"),
        row("Added by hand", "Outstanding", 2, "none"),
        row("Hold the debrief", "Outstanding", 1, debrief.public_id),
    ]


def test_tasks_by_template_keeps_the_type_and_severity_filters_and_their_links(org):
    security = IncidentType.objects.create(org=org, name="Security", rank=5)
    critical, minor = Severity.objects.filter(org=org).order_by("-rank")[:2]
    timeline = template(org, "Write the timeline")
    task(incident(org, incident_type=security, severity=critical), local(2026, 11, 3), timeline)
    task(incident(org, incident_type=security, severity=minor), local(2026, 11, 3), timeline)
    task(incident(org, severity=critical), local(2026, 11, 3), timeline)

    found = chart(org, "tasks_by_template", f"{NOVEMBER}&incident_type={security.public_id}"
                                            f"&severity={critical.public_id}")

    assert found.rows == [{
        "template": "Write the timeline", "outcome": "Outstanding", "tasks": 1,
        "link": link(task_template=timeline.public_id, task_state="outstanding", task_created="2026-11",
                     incident_type=security.public_id, severity=critical.public_id),
    }]


def test_templates_of_the_same_title_in_two_flows_are_told_apart_by_their_flow(org):
    security_flow = LearningFlow.objects.create(org=org, name="Security review")
    default, secure = template(org, "Write the timeline"), template(org, "Write the timeline", security_flow)
    closed = incident(org)
    task(closed, local(2026, 11, 3), default)
    task(closed, local(2026, 11, 3), default)
    task(closed, local(2026, 11, 3), secure)

    rows = chart(org, "tasks_by_template").rows

    assert [(r["template"], r["tasks"]) for r in rows] == [
        ("Write the timeline (Default)", 2), ("Write the timeline (Security review)", 1)]
    assert [r["link"] for r in rows] == [
        link(task_template=default.public_id, task_state="outstanding", task_created="2026-11"),
        link(task_template=secure.public_id, task_state="outstanding", task_created="2026-11")]


def test_a_custom_range_is_the_links_period(org):
    task(incident(org), local(2026, 11, 3), None)

    rows = chart(org, "tasks_by_template", "from=2026-11-02&to=2026-11-20").rows

    assert rows[0]["link"] == link(task_template="none", task_state="outstanding",
                                   task_created="2026-11-02..2026-11-20")


# --- Why tasks were not done -------------------------------------------------------------


def test_not_doing_reasons_group_the_exact_trimmed_reason_per_template(org):
    timeline, debrief = template(org, "Write the timeline"), template(org, "Hold the debrief")
    closed = incident(org)

    def not_doing(of_template, reason, addressed_day, created=None):
        task(closed, created or local(2026, 11, 3), of_template, TaskState.NOT_DOING, not_doing_reason=reason,
             addressed_at=local(2026, 11, addressed_day))

    not_doing(timeline, "Not relevant", 4)
    not_doing(timeline, "Not relevant ", 5)  # saved before reasons were trimmed
    not_doing(timeline, "", 6)
    not_doing(debrief, "Not relevant", 7)
    not_doing(None, "  Covered elsewhere\n", 8)
    not_doing(timeline, "Out of the range", 9, created=local(2026, 10, 31, 23, 59))
    task(closed, local(2026, 11, 3), timeline, TaskState.COMPLETED)

    rows = chart(org, "not_doing_reasons").rows

    def row(name, reason, n, template_id):
        return {"template": name, "reason": reason, "tasks": n,
                "link": link(task_template=template_id, task_state="not_doing", task_created="2026-11")}

    # The most given first; a tie, the one marked not doing last first.
    assert rows == [
        row("Write the timeline", "Not relevant", 2, timeline.public_id),
        row("Added by hand", "Covered elsewhere", 1, "none"),
        row("Hold the debrief", "Not relevant", 1, debrief.public_id),
        row("Write the timeline", "No reason given", 1, timeline.public_id),
    ]


def test_not_doing_reasons_shows_the_ten_most_given(org):
    closed = incident(org)
    timeline = template(org, "Write the timeline")
    for n in range(12):
        for _ in range(n + 1):
            task(closed, local(2026, 11, 3), timeline, TaskState.NOT_DOING, not_doing_reason=f"Reason {n:02d}")

    rows = chart(org, "not_doing_reasons").rows

    assert [(r["reason"], r["tasks"]) for r in rows] == [(f"Reason {n:02d}", n + 1) for n in range(11, 1, -1)]


# --- Overdue tasks by owner ----------------------------------------------------------------


def test_overdue_tasks_by_owner_is_a_snapshot_now_whatever_the_range(org, owner, responder, globex):
    owner.name = "Ada Lovelace"
    owner.save(update_fields=["name"])
    responder.name = ""
    responder.save(update_fields=["name"])
    gone = MembershipFactory(org=org, user=UserFactory(email="gone@acme.test", name="Gone Person")).user
    closed, live = incident(org), incident(org, StatusCategory.LIVE)
    long_ago = local(2025, 1, 1)  # far outside the range: the snapshot ignores it
    task(closed, long_ago, None, assignee=owner, due_at=NOW)  # due this very moment: overdue
    task(live, long_ago, None, assignee=owner, due_at=NOW - timedelta(days=40))
    task(closed, long_ago, None, assignee=owner, due_at=NOW + timedelta(seconds=1))  # not yet
    task(closed, long_ago, None, TaskState.COMPLETED, assignee=owner, due_at=NOW - timedelta(days=1))
    task(closed, long_ago, None, TaskState.NOT_DOING, assignee=owner, due_at=NOW - timedelta(days=1))
    task(closed, long_ago, None, assignee=owner)  # no due date
    task(closed, long_ago, None, assignee=responder, due_at=NOW - timedelta(hours=1))
    task(closed, long_ago, None, due_at=NOW - timedelta(hours=1))
    # Someone who has left the org owns nothing here: theirs count as unassigned.
    task(closed, long_ago, None, assignee=gone, due_at=NOW - timedelta(hours=1))
    Membership.objects.filter(org=org, user=gone).delete()
    task(incident(org, StatusCategory.MERGED), long_ago, None, assignee=owner, due_at=NOW - timedelta(days=1))
    task(incident(globex), long_ago, None, due_at=NOW - timedelta(days=1))

    found = chart(org, "overdue_tasks_by_owner")

    owner_membership = Membership.objects.get(org=org, user=owner).public_id
    responder_membership = Membership.objects.get(org=org, user=responder).public_id
    assert found.rows == [
        {"owner": "Ada Lovelace", "tasks": 2, "link": link(task_state="overdue", task_assignee=owner_membership)},
        {"owner": "Unassigned", "tasks": 2, "link": link(task_state="overdue", task_assignee="none")},
        {"owner": "responder@acme.test", "tasks": 1,
         "link": link(task_state="overdue", task_assignee=responder_membership)},
    ]
    assert "whatever the date range" in found.description
    assert chart(org, "overdue_tasks_by_owner", "range=30d").rows == found.rows


def test_overdue_tasks_by_owner_shows_the_15_holding_the_most(org):
    closed = incident(org)
    for n in range(17):  # person 00 holds 1 overdue task, person 16 holds 17
        person = MembershipFactory(org=org, user=UserFactory(email=f"p{n:02d}@acme.test", name=f"Person {n:02d}")).user
        for _ in range(n + 1):
            task(closed, local(2025, 1, 1), None, assignee=person, due_at=NOW - timedelta(days=1))

    rows = chart(org, "overdue_tasks_by_owner").rows

    assert [(r["owner"], r["tasks"]) for r in rows] == [(f"Person {n:02d}", n + 1) for n in range(16, 1, -1)]


# --- The whole panel -----------------------------------------------------------------------


def test_an_org_without_tasks_gets_empty_charts_that_say_what_would_fill_them(org, globex):
    task(incident(globex), local(2026, 11, 3), None, TaskState.NOT_DOING, due_at=NOW - timedelta(days=1))

    found = tasks.panel(org, filters(org), now=NOW)

    assert (found.slug, found.title) == ("tasks", "Tasks")
    assert [c.id for c in found.charts] == ["tasks_by_template", "not_doing_reasons", "overdue_tasks_by_owner"]
    for empty in found.charts:
        assert empty.rows == []
        assert empty.empty_text.startswith("No learning task")


def _bigger(org, n):
    timeline = template(org, f"Template {n}")
    for i in range(n):
        closed = incident(org)
        user = MembershipFactory(org=org).user
        task(closed, local(2026, 11, 3), timeline, TaskState.NOT_DOING, not_doing_reason=f"Reason {i}")
        task(closed, local(2026, 11, 4), None, assignee=user, due_at=NOW - timedelta(days=i + 1))
        task(closed, local(2026, 11, 5), template(org, f"Extra {n}-{i}"), TaskState.COMPLETED)


@pytest.mark.parametrize("size", [1, 30])
def test_the_panel_reads_one_statement_per_chart_whatever_the_data(org, size, django_assert_num_queries):
    _bigger(org, size)
    chosen = filters(org)

    with django_assert_num_queries(3):
        found = tasks.panel(org, chosen, now=NOW)

    assert all(c.rows for c in found.charts)
    assert sum(r["tasks"] for r in found.chart("tasks_by_template").rows) == 3 * size
