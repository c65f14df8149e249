"""Periods ("November", "week 45", a span of days) in the org's time zone: what
the Insights links and the incidents list's drill-down filters are made of."""

from datetime import UTC, date, datetime

import pytest

from orgs.calendar import PeriodError, month_period, period_parse, week_period


def test_a_month_runs_from_local_midnight_to_local_midnight():
    november = period_parse("2026-11", "America/New_York")
    # 1 Nov 2026 is still summer time in New York (UTC-4); DST ends that day at 02:00.
    assert november.start == datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    assert november.end == datetime(2026, 12, 1, 5, 0, tzinfo=UTC)
    assert (november.first, november.last) == (date(2026, 11, 1), date(2026, 11, 30))
    assert november.text == "2026-11"
    assert november.label == "Nov 2026"


def test_december_ends_at_the_next_years_first_midnight():
    december = period_parse("2026-12", "Europe/Berlin")
    assert december.end == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)


def test_an_iso_week_starts_on_monday_and_spans_a_dst_change():
    week = period_parse("2026-W44", "Europe/Berlin")  # Mon 26 Oct – Sun 1 Nov; DST ended Sun 25 Oct
    assert (week.first, week.last) == (date(2026, 10, 26), date(2026, 11, 1))
    assert week.start == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    spring = period_parse("2026-W13", "Europe/Berlin")  # Mon 23 – Sun 29 Mar; DST starts Sun 29 Mar
    assert (spring.end - spring.start).total_seconds() == 167 * 3600
    assert spring.text == "2026-W13"
    assert spring.label == "Week of 23 Mar 2026"


def test_a_day_and_a_span_of_days_round_trip():
    day = period_parse("2026-11-30", "Asia/Tokyo")
    assert (day.start, day.end) == (datetime(2026, 11, 29, 15, tzinfo=UTC), datetime(2026, 11, 30, 15, tzinfo=UTC))
    assert day.text == "2026-11-30"
    span = period_parse("2026-11-02..2026-12-06", "UTC")
    assert span.text == "2026-11-02..2026-12-06"
    assert span.label == "2 Nov 2026 – 6 Dec 2026"
    assert period_parse(span.text, "UTC") == span


def test_month_and_week_builders_match_the_parser():
    assert month_period(date(2026, 2, 1), "UTC") == period_parse("2026-02", "UTC")
    assert week_period(date(2026, 11, 2), "UTC") == period_parse("2026-W45", "UTC")


@pytest.mark.parametrize("text", ["", "2026-13", "2026-W54", "November", "2026-11-31", "2026-12-06..2026-11-02",
                                  "2026-11..2026-12"])
def test_a_period_it_cannot_read_is_refused_with_what_it_takes(text):
    with pytest.raises(PeriodError) as refused:
        period_parse(text, "UTC")
    assert "2026" in str(refused.value) or "ends before it starts" in str(refused.value)
