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


# --- Periods: "this week", "November", in the org's time zone ---------------------------------


@dataclass(frozen=True)
class Period:
    """A span of local days in a time zone: ``first`` to ``last`` inclusive,
    i.e. the moments ``start`` (midnight before ``first``) up to, not
    including, ``end`` (midnight after ``last``), both aware UTC datetimes.
    Local midnights make a month or week right across a daylight-saving
    change: a week of 167 or 169 hours is still that week."""

    first: date
    last: date
    tz: ZoneInfo

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), tzinfo=self.tz).astimezone(UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(), tzinfo=self.tz).astimezone(UTC)

    @property
    def text(self) -> str:
        """The period as :func:`period_parse` reads it back, in its shortest form."""
        if self.first.day == 1 and (self.last + timedelta(days=1)).day == 1 and self.first.month == self.last.month:
            return f"{self.first:%Y-%m}"
        year, week, weekday = self.first.isocalendar()
        if weekday == 1 and self.last == self.first + timedelta(days=6):
            return f"{year}-W{week:02d}"
        if self.first == self.last:
            return self.first.isoformat()
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    @property
    def label(self) -> str:
        """How people read it: "Nov 2026", "Week of 2 Nov 2026", "2 Nov 2026", "2 Nov – 8 Dec 2026"."""
        kind = self.text
        if len(kind) == 7:
            return f"{self.first:%b %Y}"
        if "W" in kind:
            return f"Week of {self.first.day} {self.first:%b %Y}"
        if self.first == self.last:
            return f"{self.first.day} {self.first:%b %Y}"
        return f"{self.first.day} {self.first:%b %Y} – {self.last.day} {self.last:%b %Y}"


class PeriodError(ValueError):
    """A period text :func:`period_parse` cannot read; the message says what it takes."""


PERIOD_FORMS = "a month (2026-11), an ISO week (2026-W45), a day (2026-11-02) or days (2026-11-02..2026-11-30)"


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"“{text}” is not a date: use {PERIOD_FORMS}.") from None


def period_parse(text: str, time_zone: ZoneInfo | str) -> Period:
    """A period from its text (see ``PERIOD_FORMS``), in ``time_zone``.
    Raises :class:`PeriodError` with a message a person can act on."""
    tz = ZoneInfo(time_zone) if isinstance(time_zone, str) else time_zone
    text = (text or "").strip()
    if ".." in text:
        first_text, _, last_text = text.partition("..")
        first, last = _parse_day(first_text), _parse_day(last_text)
        if last < first:
            raise PeriodError(f"“{text}” ends before it starts.")
        return Period(first, last, tz)
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit():
        year, month = int(text[:4]), int(text[5:])
        if not 1 <= month <= 12:
            raise PeriodError(f"“{text}” is not a month: use {PERIOD_FORMS}.")
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        return Period(first, following - timedelta(days=1), tz)
    if len(text) == 8 and text[4:6].upper() == "-W" and text[:4].isdigit() and text[6:].isdigit():
        try:
            first = date.fromisocalendar(int(text[:4]), int(text[6:]), 1)
        except ValueError:
            raise PeriodError(f"“{text}” is not an ISO week: use {PERIOD_FORMS}.") from None
        return Period(first, first + timedelta(days=6), tz)
    day = _parse_day(text)
    return Period(day, day, tz)


def month_period(first_of_month: date, time_zone: ZoneInfo | str) -> Period:
    return period_parse(f"{first_of_month:%Y-%m}", time_zone)


def week_period(monday: date, time_zone: ZoneInfo | str) -> Period:
    tz = ZoneInfo(time_zone) if isinstance(time_zone, str) else time_zone
    return Period(monday, monday + timedelta(days=6), tz)
