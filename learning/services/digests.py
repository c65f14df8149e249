"""Scheduled digests: a summary of the org's overdue and due-soon work, sent
daily or weekly at an hour of the org's time zone (docs/learning-flow.md, "Digests").

What a digest lists: outstanding learning tasks and follow-ups (also those of
Closed incidents) whose due date has passed or falls within the next
``HORIZON_DAYS`` days, grouped by owner, each linking to its incident.

Exactly once per period: the beat's sweep (``learning.tasks.send_due_digests``)
locks the schedule row, and in one transaction queues the messages in the
outbox and records the period as taken (``DigestSchedule.last_period``). A
crash before the commit leaves the period to the next sweep; after it, the
outbox delivers. Each message's dedupe key also names the period
(``digest:<org>:<period>:slack``), so nothing can queue the same period twice.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from incidentio.common.errors import ServiceError
from incidentio.common.links import incident_url_prefix
from incidentio.incidents.models import FollowUp, FollowUpStatus
from learning.models import DigestFrequency, DigestSchedule, LearningTask, TaskState
from slackbot.formatting import escape, link
from slackbot.outbox import outbox_enqueue

logger = logging.getLogger(__name__)

#: Outbox kinds: the scheduled digest, and a preview sent to one member.
DIGEST = "learning.digest"
DIGEST_PREVIEW = "learning.digest_preview"

#: "Due soon": due within this many days of the digest.
HORIZON_DAYS = {DigestFrequency.DAILY: 2, DigestFrequency.WEEKLY: 7}
#: A sweep this late after the slot still sends the period's digest; later, the
#: period is skipped: a digest is a snapshot, and half a day (a week's: two
#: days) after its hour it would mostly repeat what people have already seen
#: or arrive close to the next one.
LATE_LIMIT = {DigestFrequency.DAILY: timedelta(hours=12), DigestFrequency.WEEKLY: timedelta(days=2)}
#: Items listed in one message; the rest are counted ("and 12 more").
MAX_ITEMS = 100
MAX_EMAILS = 20
#: A Slack channel id (public ``C…``, private ``G…``), or a link to the channel.
CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{4,30}$")
CHANNEL_LINK = re.compile(r"^https://[^/]+\.slack\.com/archives/([CG][A-Z0-9]{4,30})/?$")
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def org_zone(org) -> ZoneInfo:
    try:
        return ZoneInfo(org.time_zone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# --- When: slots and periods -------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    #: The moment the digest is due (UTC).
    starts_at: datetime
    #: The period it belongs to: the local date (daily) or the ISO week (weekly).
    period: str


def _at_hour(day: date, hour: int, zone: ZoneInfo) -> datetime:
    # fold=0: an hour that does not exist that day (clocks jump forward) is the
    # moment of the jump; an hour that happens twice (clocks go back) is the first.
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)


def digest_period(frequency: str, day: date) -> str:
    if frequency == DigestFrequency.DAILY:
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _slot(schedule: DigestSchedule, day: date, zone: ZoneInfo) -> Slot:
    return Slot(_at_hour(day, schedule.hour, zone), digest_period(schedule.frequency, day))


def latest_slot(schedule: DigestSchedule, *, now: datetime, zone: ZoneInfo) -> Slot:
    """The last slot at or before ``now``: today's (or this week's) if its hour
    has come, else the one before. Computed on local dates, so a DST change
    moves the UTC moment, never the local hour."""
    day = now.astimezone(zone).date()
    step = 1
    if schedule.frequency == DigestFrequency.WEEKLY:
        day -= timedelta(days=(day.weekday() - schedule.weekday) % 7)
        step = 7
    slot = _slot(schedule, day, zone)
    if slot.starts_at > now:
        slot = _slot(schedule, day - timedelta(days=step), zone)
    return slot


def next_slot(schedule: DigestSchedule, *, now: datetime, zone: ZoneInfo) -> Slot:
    """The slot whose digest goes out next (for the settings page)."""
    latest = latest_slot(schedule, now=now, zone=zone)
    if schedule.last_period != latest.period and now - latest.starts_at <= LATE_LIMIT[schedule.frequency]:
        return latest
    step = 1 if schedule.frequency == DigestFrequency.DAILY else 7
    day = latest.starts_at.astimezone(zone).date() + timedelta(days=step)
    return _slot(schedule, day, zone)


def due_slot(schedule: DigestSchedule, *, now: datetime) -> Slot | None:
    """The slot to send now, or None: not enabled, already taken, or too late."""
    if not schedule.enabled:
        return None
    slot = latest_slot(schedule, now=now, zone=org_zone(schedule.org))
    if schedule.last_period == slot.period:
        return None
    if now - slot.starts_at > LATE_LIMIT[schedule.frequency]:
        return None
    return slot


# --- What: the digest ---------------------------------------------------------------


@dataclass(frozen=True)
class DigestItem:
    kind: str  # "Task" or "Follow-up"
    title: str
    due_at: datetime  # in the org's time zone
    overdue: bool
    incident: str  # "INC-12 Database latency"
    url: str


@dataclass
class OwnerGroup:
    owner: str
    items: list[DigestItem] = field(default_factory=list)


@dataclass
class Digest:
    org_name: str
    horizon_days: int
    groups: list[OwnerGroup]

    @property
    def items(self) -> list[DigestItem]:
        return [item for group in self.groups for item in group.items]

    @property
    def overdue(self) -> int:
        return sum(item.overdue for item in self.items)

    @property
    def due_soon(self) -> int:
        return len(self.items) - self.overdue

    @property
    def is_empty(self) -> bool:
        return not self.groups


UNASSIGNED = "Unassigned"


def digest_build(*, org, frequency: str, now: datetime) -> Digest:
    """The org's overdue and due-soon work: two queries, whatever the number of items."""
    horizon_days = HORIZON_DAYS[frequency]
    horizon = now + timedelta(days=horizon_days)
    zone = org_zone(org)
    base = settings.SITE_URL.rstrip("/") + incident_url_prefix(org)
    rows = []
    tasks = (
        LearningTask.objects.filter(org=org, state=TaskState.OUTSTANDING, due_at__lt=horizon)
        .select_related("incident", "assignee")
    )
    rows += [("Task", task) for task in tasks]
    # Whatever the incident's status: follow-ups outlive the incident (Closed included).
    follow_ups = (
        FollowUp.objects.filter(incident__org=org, status=FollowUpStatus.OUTSTANDING, due_at__lt=horizon)
        .select_related("incident", "assignee")
    )
    rows += [("Follow-up", follow_up) for follow_up in follow_ups]
    by_owner: dict[int | None, OwnerGroup] = {}
    for kind, row in sorted(rows, key=lambda pair: (pair[1].due_at, pair[0], pair[1].pk)):
        owner = row.assignee
        group = by_owner.setdefault(owner.pk if owner else None, OwnerGroup(owner.display_name if owner else UNASSIGNED))
        incident = row.incident
        group.items.append(DigestItem(
            kind=kind, title=row.title, due_at=row.due_at.astimezone(zone), overdue=row.due_at <= now,
            incident=f"{incident.reference} {incident.name}", url=f"{base}{incident.public_id}/",
        ))
    # People by name, then the unassigned work last.
    groups = sorted((g for owner, g in by_owner.items() if owner is not None), key=lambda g: g.owner.lower())
    groups += [by_owner[None]] if None in by_owner else []
    return Digest(org_name=org.name, horizon_days=horizon_days, groups=groups)


def _when(moment: datetime) -> str:
    return f"{moment:%a} {moment.day} {moment:%b %H:%M}"


def _due(item: DigestItem) -> str:
    return f"overdue since {_when(item.due_at)}" if item.overdue else f"due {_when(item.due_at)}"


def digest_subject(digest: Digest) -> str:
    return f"[incidentio] {digest.org_name}: {_summary(digest)}"


def _summary(digest: Digest) -> str:
    return f"{digest.overdue} overdue, {digest.due_soon} due in the next {digest.horizon_days} days"


def _limited(digest: Digest):
    """(owner, count, shown items) per group, at most MAX_ITEMS items in all; and how many were left out."""
    left = MAX_ITEMS
    shown = []
    for group in digest.groups:
        items = group.items[:max(left, 0)]
        left -= len(items)
        if items:
            shown.append((group.owner, len(group.items), items))
    return shown, len(digest.items) - sum(len(items) for _, _, items in shown)


def digest_slack_text(digest: Digest, *, preview: bool = False) -> str:
    """Slack mrkdwn: every name people wrote is escaped, our links built by ``link``."""
    lead = "Preview of your digest" if preview else "Digest"
    if digest.is_empty:
        return (f"*{lead} for {escape(digest.org_name)}*: nothing is overdue or due in the next "
                f"{digest.horizon_days} days, so no digest would be sent now.")
    lines = [f"*{lead} for {escape(digest.org_name)}*: {_summary(digest)}"]
    shown, rest = _limited(digest)
    for owner, count, items in shown:
        lines.append(f"\n*{escape(owner)}* ({count})")
        for item in items:
            mark = ":red_circle: " if item.overdue else ""
            lines.append(f"• {mark}{escape(item.title)} ({item.kind.lower()}, {_due(item)}) · "
                         f"{link(item.url, item.incident)}")
    if rest:
        lines.append(f"\n…and {rest} more.")
    return "\n".join(lines)


def digest_email_text(digest: Digest, *, preview: bool = False) -> str:
    lead = "Preview of your digest" if preview else "Digest"
    if digest.is_empty:
        return (f"{lead} for {digest.org_name}: nothing is overdue or due in the next "
                f"{digest.horizon_days} days, so no digest would be sent now.\n")
    lines = [f"{lead} for {digest.org_name}: {_summary(digest)}."]
    shown, rest = _limited(digest)
    for owner, count, items in shown:
        lines += ["", f"{owner} ({count})"]
        for item in items:
            lines.append(f"- {'OVERDUE ' if item.overdue else ''}{item.title} ({item.kind.lower()}, {_due(item)})")
            lines.append(f"  {item.incident}: {item.url}")
    if rest:
        lines += ["", f"…and {rest} more."]
    return "\n".join(lines) + "\n"


# --- Sending ---------------------------------------------------------------------------


def _email_key(address: str) -> str:
    # A hash: an address can be longer than a dedupe key has room for.
    return hashlib.sha256(address.lower().encode()).hexdigest()[:24]


def _enqueue(schedule: DigestSchedule, digest: Digest, slot: Slot) -> None:
    org = schedule.org
    key = f"digest:{org.pk}:{slot.period}"
    subject, email_text = digest_subject(digest), digest_email_text(digest)
    if schedule.slack_channel:
        outbox_enqueue(org=org, kind=DIGEST, text=digest_slack_text(digest),
                       destination=f"channel:{schedule.slack_channel}", dedupe_key=f"{key}:slack")
    for address in schedule.emails:
        outbox_enqueue(org=org, kind=DIGEST, text=email_text, destination=f"email:{address}",
                       dedupe_key=f"{key}:email:{_email_key(address)}", data={"subject": subject})


def has_destination(schedule: DigestSchedule) -> bool:
    return bool(schedule.slack_channel or schedule.emails)


@transaction.atomic
def digest_send_due(*, schedule_id: int, now: datetime) -> int | None:
    """Send the schedule's digest if its slot has come and its period is not
    taken; returns the number of items it listed (0: nothing outstanding,
    nothing sent), or None when it was not due."""
    schedule = (
        DigestSchedule.objects.select_for_update(of=("self",)).select_related("org")
        .filter(pk=schedule_id).first()
    )
    if schedule is None or not has_destination(schedule):
        return None
    slot = due_slot(schedule, now=now)
    if slot is None:
        return None
    digest = digest_build(org=schedule.org, frequency=schedule.frequency, now=now)
    if not digest.is_empty:
        _enqueue(schedule, digest, slot)
    schedule.last_period = slot.period
    schedule.last_run_at = now
    schedule.last_item_count = len(digest.items)
    schedule.save(update_fields=["last_period", "last_run_at", "last_item_count"])
    return len(digest.items)


def digest_sweep(*, now: datetime) -> int:
    """Send every digest whose slot has come; returns how many were sent."""
    sent = 0
    candidates = DigestSchedule.objects.filter(enabled=True).select_related("org").order_by("pk")
    for schedule in candidates:
        if not has_destination(schedule) or due_slot(schedule, now=now) is None:
            continue
        try:
            if digest_send_due(schedule_id=schedule.pk, now=now):
                sent += 1
        except Exception:
            # One org's failure must not hold back the others' digests; the next
            # sweep tries it again (its period was not taken).
            logger.exception("The digest of org %s failed", schedule.org_id)
    return sent


def digest_preview(*, org, user, now: datetime) -> Digest:
    """Send the current digest to ``user`` (a Slack DM, or an e-mail without
    Slack), now, without taking the period: the scheduled one still goes out."""
    schedule = digest_schedule_get(org=org)
    digest = digest_build(org=org, frequency=schedule.frequency, now=now)
    outbox_enqueue(
        org=org, kind=DIGEST_PREVIEW, text=digest_slack_text(digest, preview=True), destination=f"dm:{user.pk}",
        data={"subject": f"[incidentio] Preview: {digest.org_name} digest",
              "email_text": digest_email_text(digest, preview=True)},
    )
    return digest


# --- Settings -------------------------------------------------------------------------


def digest_schedule_get(*, org) -> DigestSchedule:
    schedule, _ = DigestSchedule.objects.select_related("org").get_or_create(org=org)
    return schedule


def parse_emails(text: str) -> list[str]:
    """Addresses separated by commas, semicolons, spaces or lines; each checked,
    duplicates dropped. Every invalid address is named in the error."""
    addresses: list[str] = []
    invalid: list[str] = []
    for raw in re.split(r"[\s,;]+", text or ""):
        address = raw.strip()
        if not address:
            continue
        try:
            if len(address) > 254:
                raise ValidationError("too long")
            validate_email(address)
        except ValidationError:
            invalid.append(address)
            continue
        if address.lower() not in {a.lower() for a in addresses}:
            addresses.append(address)
    if invalid:
        shown = ", ".join(f"“{a[:60]}”" for a in invalid[:5])
        raise ServiceError(f"Not an e-mail address: {shown}. Separate addresses with commas or new lines.",
                           field="emails")
    if len(addresses) > MAX_EMAILS:
        raise ServiceError(f"At most {MAX_EMAILS} addresses; this is {len(addresses)}.", field="emails")
    return addresses


def parse_channel(text: str) -> str:
    """A Slack channel id, from the id itself or a link to the channel; blank: none."""
    value = (text or "").strip()
    if not value:
        return ""
    found = CHANNEL_LINK.match(value)
    if found:
        return found.group(1)
    if CHANNEL_ID.match(value.upper()):
        return value.upper()
    raise ServiceError(
        "Give the channel's ID (like C0123ABCD: in Slack, open the channel's details; it is at the bottom) "
        "or a link to the channel. A #name is not enough: names change, the ID does not.",
        field="slack_channel",
    )


@transaction.atomic
def digest_schedule_update(*, org, enabled: bool, frequency: str, weekday: int, hour: int,
                           slack_channel: str | None, emails: list[str], now: datetime) -> DigestSchedule:
    """Save the schedule (``slack_channel=None`` keeps the channel). Checks
    everything first: a refusal changes nothing.

    Turning the digest on, or moving its day or hour, takes the period of the
    last slot that has already passed under the new settings: the first digest
    goes out at the next slot, not a minute after saving."""
    if frequency not in DigestFrequency.values:
        raise ServiceError("Choose daily or weekly.", field="frequency")
    if not 0 <= weekday <= 6:
        raise ServiceError("Choose a day of the week.", field="weekday")
    if not 0 <= hour <= 23:
        raise ServiceError("Choose an hour from 0 to 23.", field="hour")
    emails = parse_emails(" ".join(emails))
    schedule = DigestSchedule.objects.select_for_update().filter(org=org).first() or digest_schedule_get(org=org)
    timing = (schedule.enabled, schedule.frequency, schedule.weekday, schedule.hour)
    schedule.enabled, schedule.frequency, schedule.weekday, schedule.hour = enabled, frequency, weekday, hour
    if slack_channel is not None:
        schedule.slack_channel = slack_channel
    schedule.emails = emails
    if enabled and timing != (enabled, frequency, weekday, hour):
        schedule.last_period = latest_slot(schedule, now=now, zone=org_zone(org)).period
    schedule.save()
    return schedule
