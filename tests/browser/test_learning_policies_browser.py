"""A new admin sets up per-type learning and its policies, in Chromium, only through the pages.

Issue: incident types with their own learning flows, and policies that follow
the work through. A fresh org's admin creates a Security incident type and a
Security learning flow (a status with a task due 2 business days after the
incident was resolved), points the type at it, sets the working calendar, the
follow-up due dates, reminders and a weekly digest — reading on each page what
it does and its example. Then they declare a Security incident from the
dashboard, close it, and find the Security flow's first status and its task due
on the right day in the org's time zone, while a Default incident closed the
same way runs the default flow; the Post-incident page lists both with their type.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from orgs.models import Role
from tests.browser.helpers import fill_sign_in
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "ada@acme.test"
ZONE = "Pacific/Auckland"  # far from UTC, so the local date is often not UTC's


@pytest.fixture
def fresh_org():
    """A new org as sign-up makes it (its defaults seeded) with one admin: nothing else."""
    acme = OrganizationFactory(slug="acme", name="Acme Inc.")
    MembershipFactory(org=acme, role=Role.ADMIN, user=UserFactory(email=EMAIL, name="Ada Admin"))
    return acme


@pytest.fixture(autouse=True)
def advance_in_process(eager_celery):
    """Celery jobs run in the live server's request, on commit."""


def working_days_after(start: date, n: int, holiday: date) -> date:
    """The docs' rule, written out independently: from a day off, start on the
    next working day (day 0), then step over ``n`` working days (Mon–Fri, not the holiday)."""

    def working(day: date) -> bool:
        return day.weekday() < 5 and day != holiday

    day = start
    while not working(day):
        day += timedelta(days=1)
    for _ in range(n):
        day += timedelta(days=1)
        while not working(day):
            day += timedelta(days=1)
    return day


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def disclosure(scope, summary: str):
    """The ``<details>`` in ``scope`` whose summary says ``summary``."""
    return scope.locator("details").filter(has=scope.page.locator("summary", has_text=summary))


def settings_tab(page: Page, name: str):
    return page.locator("nav.tabs").get_by_role("link", name=name, exact=True)


def flash(page: Page):
    return page.locator(".flash-success")


def test_a_new_admin_sets_up_a_security_flow_and_its_policies_then_runs_it(
    fresh_org, browser_context, artifacts_dir
):
    page = browser_context.new_page()
    page.goto("/acme/settings/incident-types/")
    fill_sign_in(page, EMAIL, PASSWORD)

    # Settings → Incident types: what types are for, with an example; add Security.
    expect(page.get_by_test_id("types-help")).to_contain_text("For example, Security")
    add_type = page.locator("section", has=page.get_by_role("heading", name="Add an incident type"))
    add_type.get_by_label("Name").fill("Security")
    add_type.get_by_label("Description").fill("Leaked credentials, breaches, abuse.")
    add_type.get_by_role("button", name="Add type").click()
    expect(flash(page)).to_contain_text("Security")
    expect(page.get_by_test_id("incident-type-row").filter(has_text="Security")).to_be_visible()

    # It links to where its flow is chosen.
    page.get_by_test_id("types-help").get_by_role("link", name="Settings → Learning flow").click()
    expect(page.get_by_test_id("learning-intro")).to_contain_text("For example")

    # Settings → Learning flow: a Security flow with its own status and a task with a due rule.
    new_flow = page.locator("#new-flow")
    new_flow.get_by_label("Name").fill("Security")
    new_flow.get_by_role("button", name="Add flow").click()
    expect(flash(page)).to_contain_text("Flow “Security” added")
    flow = page.get_by_test_id("learning-flow").filter(has=page.get_by_role("heading", name="Security flow"))
    new_status = disclosure(flow, "New learning status")
    new_status.locator("summary").click()
    new_status.get_by_label("Name").fill("Security review")
    new_status.get_by_role("button", name="Add learning status").click()
    expect(flash(page)).to_contain_text("“Security review” added to the Security flow")

    review = flow.get_by_test_id("learning-status").filter(has_text="Security review")
    add_task = disclosure(review, "Add task")
    add_task.locator("summary").click()
    add_task.get_by_label("Title").fill("Rotate the exposed credentials")
    add_task.get_by_label("Due after (business days)").fill("2")
    add_task.get_by_label("Counted from").select_option(label="after the incident was resolved")
    add_task.get_by_role("button", name="Add task").click()
    expect(flash(page)).to_contain_text("Rotate the exposed credentials")
    template = flow.get_by_test_id("task-template").filter(has_text="Rotate the exposed credentials")
    expect(template.get_by_test_id("due-rule")).to_have_text("Due 2 business days after the incident was resolved")
    expect(template).to_contain_text("Assignee: Incident Lead")  # a new task's default, as in the API

    # The Security type runs the Security flow, always.
    rules = page.get_by_test_id("type-rules").filter(has=page.locator("strong", has_text="Security"))
    expect(rules.get_by_test_id("type-summary")).to_have_text("Default flow, ask whoever closes it")
    rules.locator("summary", has_text="Change").click()
    rules.get_by_label("Learning flow").select_option(label="Security")
    rules.get_by_label("Every incident of this type enters the flow").check()
    rules.get_by_role("button", name="Save rules").click()
    expect(flash(page)).to_contain_text("Lifecycle rules of Security saved")
    expect(rules.get_by_test_id("type-summary")).to_have_text("Security flow, always enters")

    # Settings → Working calendar: a time zone and a holiday (the next working day there).
    settings_tab(page, "Working calendar").click()
    expect(page.get_by_test_id("calendar-example")).to_contain_text("Friday 15:00 is due Tuesday 15:00")
    page.get_by_label("Time zone").select_option(ZONE)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(flash(page)).to_contain_text("Working calendar saved")
    expect(page.get_by_test_id("calendar-summary")).to_have_text(ZONE)
    today = datetime.now(ZoneInfo(ZONE)).date()
    day0 = today if today.weekday() < 5 else next_working_day(today - timedelta(days=1))
    holiday = next_working_day(day0)
    holidays = page.get_by_test_id("holidays")
    holidays.get_by_label("Date").fill(holiday.isoformat())
    holidays.get_by_label("Name").fill("Founders' Day")
    holidays.get_by_role("button", name="Add holiday").click()
    expect(flash(page)).to_contain_text("is a holiday now")
    expect(page.get_by_test_id("holidays")).to_contain_text("Founders' Day")

    # Settings → Follow-up due dates.
    settings_tab(page, "Follow-up due dates").click()
    due_page = page.get_by_test_id("follow-up-due")
    expect(due_page.get_by_test_id("follow-up-due-example")).to_contain_text("For example")
    due_page.get_by_label("High").fill("5")
    due_page.get_by_role("button", name="Save").click()
    expect(flash(page)).to_contain_text("Follow-up due dates saved")
    expect(page.get_by_label("High")).to_have_value("5")

    # Settings → Reminders: the example follows what is saved.
    settings_tab(page, "Reminders").click()
    expect(page.get_by_test_id("reminder-example")).to_contain_text("For example")
    page.get_by_label("First reminder, hours before the due date").fill("4")
    page.get_by_label("Then remind again every (days)").fill("1")
    page.get_by_label("Escalate after this many days overdue").fill("3")
    page.get_by_role("button", name="Save").click()
    expect(flash(page)).to_contain_text("Reminder settings saved")
    example = page.get_by_test_id("reminder-example")
    expect(example).to_contain_text("4 hours before")
    expect(example).to_contain_text("every 1 day while it is overdue")
    expect(example).to_contain_text("after 3 days overdue the incident lead is told too")
    expect(example).to_contain_text(ZONE)

    # Settings → Digests: weekly, Monday 09:00, by e-mail.
    settings_tab(page, "Digests").click()
    expect(page.locator("#digest-example")).to_contain_text("A weekly digest sent on Monday at 09:00")
    digest = page.get_by_test_id("digest")
    digest.get_by_label("Send a digest").check()
    digest.get_by_label("How often").select_option(label="Weekly")
    digest.get_by_label("Day (weekly digests)").select_option(label="Monday")
    digest.get_by_label(f"Hour ({ZONE} time)").select_option(label="09:00")
    digest.get_by_label("E-mail addresses").fill("security-leads@acme.test")
    digest.get_by_role("button", name="Save digest settings").click()
    expect(flash(page)).to_contain_text("saved")
    expect(page.get_by_test_id("next-digest")).to_contain_text("Monday")
    expect(page.get_by_test_id("next-digest")).to_contain_text("09:00")
    page.screenshot(path=str(artifacts_dir / "policies-digest.png"), full_page=True)

    # Declare a Security incident from the dashboard and close it.
    declare(page, "Leaked deploy token", incident_type="Security")
    page.get_by_test_id("close-choice").locator("summary").click()
    expect(page.get_by_test_id("flow-required")).to_contain_text("Security incidents always run the Security flow")
    page.get_by_role("button", name="Close and run the learning flow").click()
    panel = page.get_by_test_id("learning-panel")
    expect(page.get_by_test_id("incident-badges")).to_contain_text("Security review")
    expect(panel.locator(".learning-status.current h3")).to_contain_text("Security review")
    task = panel.get_by_test_id("task").filter(has_text="Rotate the exposed credentials")
    expect(panel.get_by_test_id("task")).to_have_count(1)  # the Security flow's task, not the default four
    expect(task).to_contain_text("Ada Admin")  # the incident lead
    due = working_days_after(today, 2, holiday)
    badge = task.get_by_test_id("due")
    expect(badge).to_have_text(f"Due {due:%a} {due.day} {due:%b}" + ("" if due.year == today.year else f" {due.year}"))
    expect(badge).to_have_attribute("title", re.compile(rf"^{due.isoformat()} \d\d:\d\d \({re.escape(ZONE)}\)$"))
    page.screenshot(path=str(artifacts_dir / "policies-security-incident.png"), full_page=True)

    # A Default incident closed the same way is asked, and runs the default flow.
    declare(page, "Cache stampede", incident_type="Default")
    page.get_by_test_id("close-choice").locator("summary").click()
    page.get_by_role("button", name="Close and run the learning flow").click()
    panel = page.get_by_test_id("learning-panel")
    expect(panel.locator(".learning-status.current h3")).to_contain_text("Documenting")
    expect(panel.get_by_test_id("task").filter(has_text="Create the post-mortem")).to_be_visible()
    expect(panel).not_to_contain_text("Rotate the exposed credentials")

    # Post-incident lists both, each with its type and its learning status.
    page.get_by_role("link", name="Post-incident").click()
    rows = page.get_by_test_id("post-incident-row")
    expect(rows).to_have_count(2)
    security_row = rows.filter(has_text="Leaked deploy token")
    expect(security_row.locator("td[data-label=Type]")).to_have_text("Security")
    expect(security_row).to_contain_text("Security review")
    default_row = rows.filter(has_text="Cache stampede")
    expect(default_row.locator("td[data-label=Type]")).to_have_text("Default")
    expect(default_row).to_contain_text("Documenting")
    page.screenshot(path=str(artifacts_dir / "policies-post-incident.png"), full_page=True)


def declare(page: Page, name: str, *, incident_type: str) -> None:
    page.goto("/acme/")
    page.get_by_role("link", name="Declare incident").first.click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Type").select_option(label=incident_type)
    page.get_by_label("Severity").select_option(label="Minor")
    page.get_by_role("button", name="Declare incident").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()

