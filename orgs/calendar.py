"""An organization's working calendar: business-day arithmetic for due dates.

Due dates ("5 business days after the incident was resolved") count the
org's working days (``Organization.working_days``, Monday is 0) in its time
zone (``Organization.time_zone``, an IANA name), skipping its holidays
(``Holiday``). The functions here are pure: they take a
:class:`WorkingCalendar`, built from an org with one query for its holidays
(:meth:`WorkingCalendar.of`), so they are easy to test and cheap to call in a
loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA time zone name this system knows, sorted (what the settings page offers)."""
    return tuple(sorted(available_timezones()))


@dataclass(frozen=True)
class WorkingCalendar:
    tz: ZoneInfo
    working_days: frozenset[int]
    holidays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, org) -> WorkingCalendar:
        """The org's calendar: its holidays in one query."""
        from orgs.models import Holiday

        holidays = Holiday.objects.filter(org_id=org.pk).values_list("date", flat=True)
        return cls.build(org.time_zone, org.working_days, holidays)

    @classmethod
    def build(cls, time_zone: str, working_days, holidays=()) -> WorkingCalendar:
        # A calendar with no working day would never reach a due date; the
        # settings page refuses one, and a row written around it counts every day.
        days = frozenset(int(d) for d in working_days or ()) or frozenset(range(7))
        return cls(ZoneInfo(time_zone), days, frozenset(holidays))


def _calendar(org_or_calendar) -> WorkingCalendar:
    if isinstance(org_or_calendar, WorkingCalendar):
        return org_or_calendar
    return WorkingCalendar.of(org_or_calendar)


def is_working_day(org_or_calendar, day: date) -> bool:
    """``day`` is one of the org's working weekdays and not one of its holidays."""
    calendar = _calendar(org_or_calendar)
    return day.weekday() in calendar.working_days and day not in calendar.holidays


def _next_working_day(calendar: WorkingCalendar, day: date) -> date:
    while not is_working_day(calendar, day):
        day += timedelta(days=1)
    return day


def add_business_days(org_or_calendar, start: datetime, days: int) -> datetime:
    """The moment ``days`` working days after ``start``, as an aware UTC datetime.

    The rule, in the org's time zone:

    1. Take ``start``'s local date and wall-clock time.
    2. If that date is not a working day (a non-working weekday or a
       holiday), move to the next working day, keeping the time: that day is
       where counting starts (day 0). So 0 days after Saturday 10:00 is
       Monday 10:00 (with Monday to Friday as working days), and 1 day after
       it is Tuesday 10:00.
    3. Step forward one working day ``days`` times, skipping non-working
       days.
    4. The result is that date at the same local wall-clock time as ``start``.
       Across a daylight-saving change the wall time is kept (so the UTC
       offset differs); a wall time that does not exist on that date (the
       hour skipped in spring) is read with the offset before the change,
       i.e. an hour later on the clock; an ambiguous one (the hour repeated
       in autumn) is its first occurrence.

    E.g. 2 business days after Friday 15:00 is Tuesday 15:00.
    """
    if days < 0:
        raise ValueError("days must be 0 or more")
    calendar = _calendar(org_or_calendar)
    local = start.astimezone(calendar.tz)
    day = _next_working_day(calendar, local.date())
    for _ in range(days):
        day = _next_working_day(calendar, day + timedelta(days=1))
    wall = datetime.combine(day, local.time().replace(fold=0), tzinfo=calendar.tz)
    return wall.astimezone(UTC)


def end_of_day(time_zone: str, day: date) -> datetime:
    """A date picked by hand means "by the end of that day" in the org's time
    zone: 23:59 there, as an aware UTC datetime."""
    return datetime.combine(day, time(23, 59), tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


def is_overdue(due_at: datetime | None, now: datetime) -> bool:
    return due_at is not None and due_at <= now


@dataclass(frozen=True)
class DueLabel:
    """What people read about a due date, in the org's time zone."""

    text: str  # "Due Tue 9 Dec" or "Overdue by 2 days"
    overdue: bool
    local: datetime  # the due moment in the org's time zone


def _day_text(day: date, today: date) -> str:
    text = f"{day:%a} {day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


def due_label(due_at: datetime, *, tz: ZoneInfo | str, now: datetime, done: bool = False) -> DueLabel:
    """"Due Tue 9 Dec" (the year added when it is not this year's), or once
    the moment has passed "Overdue by N days" in calendar days of the org's
    time zone ("Overdue since 15:00" on the day itself). Work ``done`` (or
    not to be done) is never overdue: "Was due Tue 9 Dec"."""
    tz = ZoneInfo(tz) if isinstance(tz, str) else tz
    local = due_at.astimezone(tz)
    today = now.astimezone(tz).date()
    day = _day_text(local.date(), today)
    if due_at > now:
        return DueLabel(f"Due {day}", False, local)
    if done:
        return DueLabel(f"Was due {day}", False, local)
    late = (today - local.date()).days
    if late == 0:
        return DueLabel(f"Overdue since {local:%H:%M}", True, local)
    return DueLabel(f"Overdue by {late} day{'s' if late != 1 else ''}", True, local)
