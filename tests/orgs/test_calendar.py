"""Business-day arithmetic of an org's working calendar (orgs/calendar.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from orgs.calendar import WorkingCalendar, add_business_days, due_label, is_working_day
from orgs.models import Holiday

MON_FRI = [0, 1, 2, 3, 4]
SUN_THU = [6, 0, 1, 2, 3]


def local(tz: str, *args) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo(tz))


def cal(tz="UTC", days=MON_FRI, holidays=()):
    return WorkingCalendar.build(tz, days, holidays)


def test_two_business_days_after_friday_afternoon_is_tuesday_afternoon():
    friday = local("UTC", 2026, 12, 4, 15, 0)
    assert add_business_days(cal(), friday, 2) == datetime(2026, 12, 8, 15, 0, tzinfo=UTC)


def test_within_the_week_each_day_counts():
    monday = local("UTC", 2026, 12, 7, 9, 30)
    assert add_business_days(cal(), monday, 3) == datetime(2026, 12, 10, 9, 30, tzinfo=UTC)


def test_zero_days_on_a_working_day_is_the_start_itself():
    wednesday = local("UTC", 2026, 12, 9, 11, 0)
    assert add_business_days(cal(), wednesday, 0) == wednesday


def test_a_holiday_is_skipped():
    # Thursday 24 Dec + 1: Friday 25 Dec is a holiday, so Monday 28 Dec.
    calendar = cal(holidays=[date(2026, 12, 25)])
    start = local("UTC", 2026, 12, 24, 10, 0)
    assert add_business_days(calendar, start, 1) == datetime(2026, 12, 28, 10, 0, tzinfo=UTC)


def test_a_start_on_saturday_counts_from_monday():
    saturday = local("UTC", 2026, 12, 5, 10, 0)
    assert add_business_days(cal(), saturday, 0) == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert add_business_days(cal(), saturday, 1) == datetime(2026, 12, 8, 10, 0, tzinfo=UTC)


def test_a_start_on_a_holiday_counts_from_the_next_working_day():
    calendar = cal(holidays=[date(2026, 12, 7)])  # Monday off
    saturday = local("UTC", 2026, 12, 5, 10, 0)
    assert add_business_days(calendar, saturday, 1) == datetime(2026, 12, 9, 10, 0, tzinfo=UTC)


def test_sunday_to_thursday_working_week():
    calendar = cal(days=SUN_THU)
    thursday = local("UTC", 2026, 12, 10, 8, 0)
    # Friday and Saturday are the weekend: the next working day is Sunday.
    assert add_business_days(calendar, thursday, 1) == datetime(2026, 12, 13, 8, 0, tzinfo=UTC)
    friday = local("UTC", 2026, 12, 11, 8, 0)
    assert add_business_days(calendar, friday, 0) == datetime(2026, 12, 13, 8, 0, tzinfo=UTC)
    assert is_working_day(calendar, date(2026, 12, 13)) and not is_working_day(calendar, date(2026, 12, 11))


def test_the_local_date_decides_not_the_utc_one():
    # Friday 20:00 in New York is already Saturday in UTC; it is still Friday there.
    calendar = cal("America/New_York")
    friday_evening = local("America/New_York", 2026, 12, 4, 20, 0)
    due = add_business_days(calendar, friday_evening, 1)
    assert due.astimezone(ZoneInfo("America/New_York")) == local("America/New_York", 2026, 12, 7, 20, 0)


@pytest.mark.parametrize(
    ("tz", "start", "days", "expected_local", "expected_utc"),
    [
        # New York springs forward on Sunday 8 March 2026: EST (-5) → EDT (-4).
        ("America/New_York", (2026, 3, 6, 15, 0), 1, (2026, 3, 9, 15, 0), (2026, 3, 9, 19, 0)),
        # ...and falls back on Sunday 1 November 2026: EDT → EST.
        ("America/New_York", (2026, 10, 30, 15, 0), 1, (2026, 11, 2, 15, 0), (2026, 11, 2, 20, 0)),
        # Berlin springs forward on Sunday 29 March 2026: CET (+1) → CEST (+2).
        ("Europe/Berlin", (2026, 3, 27, 9, 0), 1, (2026, 3, 30, 9, 0), (2026, 3, 30, 7, 0)),
        # ...and falls back on Sunday 25 October 2026: CEST → CET.
        ("Europe/Berlin", (2026, 10, 23, 9, 0), 1, (2026, 10, 26, 9, 0), (2026, 10, 26, 8, 0)),
    ],
    ids=["new-york-spring", "new-york-autumn", "berlin-spring", "berlin-autumn"],
)
def test_wall_clock_time_is_kept_across_a_dst_change(tz, start, days, expected_local, expected_utc):
    due = add_business_days(cal(tz), local(tz, *start), days)
    assert due.tzinfo == UTC
    assert due.astimezone(ZoneInfo(tz)) == local(tz, *expected_local)
    assert due == datetime(*expected_utc, tzinfo=UTC)


def test_a_wall_time_skipped_by_dst_lands_after_the_gap():
    # Sunday 8 March 2026 02:30 does not exist in New York; with every day working it is 03:30 EDT.
    calendar = cal("America/New_York", days=range(7))
    start = local("America/New_York", 2026, 3, 7, 2, 30)
    assert add_business_days(calendar, start, 1) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_negative_days_are_refused():
    with pytest.raises(ValueError):
        add_business_days(cal(), local("UTC", 2026, 12, 7, 9, 0), -1)


def test_no_working_days_counts_every_day_rather_than_looping_forever():
    start = local("UTC", 2026, 12, 5, 9, 0)
    assert add_business_days(cal(days=[]), start, 1) == datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_an_org_calendar_reads_its_holidays_in_one_query(acme, django_assert_num_queries):
    acme.time_zone = "Europe/Berlin"
    Holiday.objects.create(org=acme, date=date(2026, 12, 25), name="Christmas")
    Holiday.objects.create(org=acme, date=date(2026, 12, 28), name="Bridge day")
    with django_assert_num_queries(1):
        due = add_business_days(acme, local("Europe/Berlin", 2026, 12, 24, 10, 0), 1)
    assert due.astimezone(ZoneInfo("Europe/Berlin")) == local("Europe/Berlin", 2026, 12, 29, 10, 0)


def test_due_labels_in_the_org_time_zone():
    tz = ZoneInfo("America/New_York")
    now = local("America/New_York", 2026, 12, 7, 12, 0)
    assert due_label(local("America/New_York", 2026, 12, 9, 9, 0), tz=tz, now=now).text == "Due Wed 9 Dec"
    # 02:00 UTC on the 10th is still the 9th in New York.
    assert due_label(datetime(2026, 12, 10, 2, 0, tzinfo=UTC), tz=tz, now=now).text == "Due Wed 9 Dec"
    assert due_label(local("America/New_York", 2027, 1, 4, 9, 0), tz=tz, now=now).text == "Due Mon 4 Jan 2027"
    overdue = due_label(local("America/New_York", 2026, 12, 5, 9, 0), tz=tz, now=now)
    assert (overdue.text, overdue.overdue) == ("Overdue by 2 days", True)
    assert due_label(local("America/New_York", 2026, 12, 6, 13, 0), tz=tz, now=now).text == "Overdue by 1 day"
    assert due_label(local("America/New_York", 2026, 12, 7, 9, 0), tz=tz, now=now).text == "Overdue since 09:00"


def test_work_done_is_never_overdue():
    now = local("UTC", 2026, 12, 7, 12, 0)
    label = due_label(local("UTC", 2026, 12, 4, 9, 0), tz="UTC", now=now, done=True)
    assert (label.text, label.overdue) == ("Was due Fri 4 Dec", False)
