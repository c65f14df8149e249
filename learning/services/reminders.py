"""Reminders and escalation: the work with a due date follows its owner until it is done.

The sweep (``reminders_sweep``, run every minute by the Celery beat) looks at
every outstanding learning task and follow-up with a due date, also after
their incident is closed, and gives each one *slots*, moments a reminder is
due, from the org's ``ReminderPolicy``:

- ``before``: ``remind_before_hours`` before the due date (none if 0);
- ``due``: at the due date;
- ``overdue-k``: ``k × repeat_every_days`` after it (k ≥ 1; none if 0);
- ``escalation``: ``escalate_after_days`` after it (none if null), to the
  holder of the escalation role (else the incident lead), recorded on the
  incident's timeline; the owner's reminders go on.

**Exactly once per slot.** Each slot's message is an outbox row whose
``dedupe_key`` is ``reminder:<task|follow_up>:<public id>:<due epoch>:<slot>``:
the outbox's unique key is the ledger of what was sent, so a slot is sent at
most once ever, by whichever sweep inserts it first (two sweeps at once: the
second waits on the first's insert and inserts nothing), and a new due date
starts new slots. Delivery is the outbox's (lease, recovery, the beat's
re-queue).

**Folding.** A sweep sends only the latest slot that has come, never the ones
before it: after a sweep ran late (the beat down for a day), an overdue item
gets one "overdue" message, not a burst of stale "due tomorrow" and "due now".
Nothing is lost: the message sent says where the item stands, which covers the
slots it folded. The ``escalation`` slot is on its own track: it is sent too
when it has come.

**Snoozes.** An item snoozed until a moment sends nothing before then. At the
end of the snooze, the slots that came meanwhile fold into one "snooze ended,
still due/overdue" reminder, its own slot keyed by the snooze's end
(``snooze-end-<epoch>``); slots after the snooze's end are sent as usual.

**Only what is due is read.** Each item remembers when the sweep next needs
to look at it (``next_reminder_at``: its next slot, or the end of its snooze;
NULL once no slot is left), worked out by the sweep that last looked at it.
The sweep reads only the items whose moment has come, so a sweep where nothing
new is due reads nothing, however much work is overdue. Saving a due date or a
snooze, a new row, and a change of the org's policy set it to "at the next
sweep". An item with a slot and nobody to tell is looked at again an hour
later (``RETRY_NOBODY_AFTER``), or at its next slot if that comes first.

**Bounded work.** The sweep walks the partial indexes on (next_reminder_at,
id) of outstanding items with a due date in batches of ``BATCH_SIZE`` with a
cursor, one transaction per batch, so a huge backlog is swept piece by piece
and a failed batch only rolls back itself. A batch costs the same few queries
whatever its size: the items with their incident and org, the policies of
orgs not seen yet, the slots already sent, the incidents' role holders, one
``INSERT … ON CONFLICT DO NOTHING`` for the new messages, one ``UPDATE`` of
the next looks; only escalations add a timeline event each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from incidentio.common import limits
from incidentio.common.actors import Actor
from incidentio.common.errors import ServiceError
from incidentio.incidents.models import (
    LOOK_AT_NEXT_SWEEP,
    EventKind,
    FollowUp,
    FollowUpStatus,
    IncidentRoleAssignment,
    RoleKind,
)
from incidentio.incidents.services.incidents import lock_incident
from incidentio.incidents.services.timeline import timeline_record, timeline_record_many
from learning import reminder_messages as say
from learning.models import LearningTask, ReminderPolicy, TaskState
from slackbot.models import OutboxMessage
from slackbot.outbox import outbox_enqueue_many

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
#: A slot with nobody to tell (no assignee, no role holder, no lead) is tried again this much later.
RETRY_NOBODY_AFTER = timedelta(hours=1)
#: The longest a snooze may last.
SNOOZE_MAX_DAYS = 90
TASK, FOLLOW_UP = "task", "follow_up"


# --- Slots -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    name: str
    at: datetime


def owner_slot(*, due_at: datetime, snoozed_until: datetime | None, policy: ReminderPolicy,
               now: datetime) -> Slot | None:
    """The latest of the owner's slots that has come by ``now`` (folding the
    earlier ones), or the snooze-end slot when that latest one came before the
    snooze ended; None before the first slot."""
    latest = None
    if policy.remind_before_hours:
        before = due_at - timedelta(hours=policy.remind_before_hours)
        if before <= now:
            latest = Slot("before", before)
    if due_at <= now:
        latest = Slot("due", due_at)
        if policy.repeat_every_days:
            period = timedelta(days=policy.repeat_every_days)
            k = (now - due_at) // period
            if k >= 1:
                latest = Slot(f"overdue-{k}", due_at + k * period)
    if latest is not None and snoozed_until is not None and latest.at <= snoozed_until <= now:
        return Slot(f"snooze-end-{int(snoozed_until.timestamp())}", snoozed_until)
    return latest


def escalation_due(*, due_at: datetime, policy: ReminderPolicy, now: datetime) -> bool:
    days = policy.escalate_after_days
    return days is not None and due_at + timedelta(days=days) <= now


def dedupe_key(kind: str, item, slot: str) -> str:
    return f"reminder:{kind}:{item.public_id}:{int(item.due_at.timestamp())}:{slot}"


# --- The sweep -------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    items: int = 0
    reminders: int = 0
    escalations: int = 0
    batches: int = 0


@dataclass
class _Plan:
    kind: str
    item: object
    owner: Slot | None
    escalate: bool
    keys: dict = field(default_factory=dict)  # slot name → dedupe key


def _policies(org_ids, known: dict) -> dict:
    missing = set(org_ids) - known.keys()
    if missing:
        found = {p.org_id: p for p in ReminderPolicy.objects.filter(org_id__in=missing)}
        for org_id in missing:
            # An org that never saved its policy has the defaults.
            known[org_id] = found.get(org_id) or ReminderPolicy(org_id=org_id)
    return known


def _outstanding(kind: str):
    """Outstanding items with a due date, as the partial indexes have them."""
    if kind == TASK:
        return LearningTask.objects.filter(state=TaskState.OUTSTANDING, due_at__isnull=False)
    return FollowUp.objects.filter(status=FollowUpStatus.OUTSTANDING, due_at__isnull=False)


def _batch(kind: str, *, now, after, size: int) -> list:
    """The next items whose next slot may have come, in (next_reminder_at, id) order."""
    items = (
        _outstanding(kind).filter(next_reminder_at__lte=now)
        .select_related("incident", "incident__org", "assignee")
        .order_by("next_reminder_at", "pk")
    )
    if after is not None:
        at, pk = after
        items = items.filter(Q(next_reminder_at__gt=at) | Q(next_reminder_at=at, pk__gt=pk))
    return list(items[:size])


def next_look(*, due_at: datetime, snoozed_until: datetime | None, policy: ReminderPolicy,
              now: datetime) -> datetime | None:
    """The first moment after ``now`` at which the item may have a slot it has not had
    (the end of its snooze, or its next owner or escalation slot); None when no slot is left."""
    if snoozed_until is not None and snoozed_until > now:
        return snoozed_until
    moments = [due_at]
    if policy.remind_before_hours:
        moments.append(due_at - timedelta(hours=policy.remind_before_hours))
    if policy.repeat_every_days:
        period = timedelta(days=policy.repeat_every_days)
        moments.append(due_at + (max(now - due_at, timedelta(0)) // period + 1) * period)
    if policy.escalate_after_days is not None:
        moments.append(due_at + timedelta(days=policy.escalate_after_days))
    return min((moment for moment in moments if moment > now), default=None)


def reminders_sweep(*, now: datetime | None = None, batch_size: int = BATCH_SIZE) -> SweepResult:
    """Send every reminder and escalation whose slot has come; safe to run twice,
    or twice at once."""
    now = now or timezone.now()
    result = SweepResult()
    policies: dict = {}
    for kind in (TASK, FOLLOW_UP):
        after = None
        while True:
            with transaction.atomic():
                items = _batch(kind, now=now, after=after, size=batch_size)
                if items:
                    _sweep_batch(kind, items, now=now, policies=policies, result=result)
            result.batches += 1
            if len(items) < batch_size:
                break
            after = (items[-1].next_reminder_at, items[-1].pk)
    return result


def _sweep_batch(kind: str, items: list, *, now, policies: dict, result: SweepResult) -> None:
    result.items += len(items)
    _policies({item.incident.org_id for item in items}, policies)
    retry = _send_due(kind, items, now=now, policies=policies, result=result)
    _remember_next_looks(kind, items, now=now, policies=policies, retry=retry)


def _send_due(kind: str, items: list, *, now, policies: dict, result: SweepResult) -> set:
    """Queue the items' messages whose slot has come and was not sent; returns the
    ids of the items with a slot that has nobody to tell yet."""
    plans, retry = [], set()
    for item in items:
        policy = policies[item.incident.org_id]
        if item.snoozed_until is not None and item.snoozed_until > now:
            continue  # a snoozed item sends nothing, escalation included; it is next looked at when the snooze ends
        plan = _Plan(kind, item, owner_slot(due_at=item.due_at, snoozed_until=item.snoozed_until, policy=policy,
                                            now=now), escalation_due(due_at=item.due_at, policy=policy, now=now))
        if plan.owner is not None:
            plan.keys[plan.owner.name] = dedupe_key(kind, item, plan.owner.name)
            plan.keys.setdefault("due", dedupe_key(kind, item, "due"))
        if plan.escalate:
            plan.keys["escalation"] = dedupe_key(kind, item, "escalation")
        if plan.keys:
            plans.append(plan)
    if not plans:
        return retry
    sent = set(OutboxMessage.objects.filter(
        dedupe_key__in=[key for plan in plans for key in plan.keys.values()]
    ).values_list("dedupe_key", flat=True))
    todo = [p for p in plans if (p.owner and p.keys[p.owner.name] not in sent)
            or (p.escalate and p.keys["escalation"] not in sent)]
    if not todo:
        return retry
    holders = _role_holders({p.item.incident_id for p in todo})
    messages, escalated_by_key = [], {}
    for plan in todo:
        item, incident = plan.item, plan.item.incident
        owner = _owner(plan, holders)
        if plan.owner and plan.keys[plan.owner.name] not in sent and owner is None:
            retry.add(item.pk)  # nobody to remind yet: looked at again within the hour
        if plan.owner and plan.keys[plan.owner.name] not in sent and owner is not None:
            text = say.reminder_text(kind, item, plan.owner.name, now)
            messages.append(OutboxMessage(
                org_id=incident.org_id, incident=incident, kind=say.REMINDER, text=text,
                blocks=say.blocks(kind, item, text, done=True), destination=f"dm:{owner.pk}",
                dedupe_key=plan.keys[plan.owner.name],
                data={"item": say.item_ref(kind, item), "slot": plan.owner.name},
            ))
        if plan.escalate and plan.keys["escalation"] not in sent:
            policy = policies[incident.org_id]
            told, role_name = _escalation_recipient(incident.pk, policy, holders)
            if told is None:
                retry.add(item.pk)  # nobody to tell yet: a sweep within the hour tells whoever holds the role then
                continue
            text = say.escalation_text(kind, item, owner.display_name if owner else "nobody's", role_name, now)
            messages.append(OutboxMessage(
                org_id=incident.org_id, incident=incident, kind=say.ESCALATION, text=text,
                blocks=say.blocks(kind, item, text, done=False), destination=f"dm:{told.pk}",
                dedupe_key=plan.keys["escalation"],
                data={"item": say.item_ref(kind, item), "slot": "escalation"},
            ))
            escalated_by_key[plan.keys["escalation"]] = (plan, told, role_name)
    queued = {m.dedupe_key for m in outbox_enqueue_many(messages)}
    overdue = []
    for plan in todo:
        key = plan.keys.get(plan.owner.name) if plan.owner else None
        if key in queued:
            result.reminders += 1
            # The item went past its due date (whether the "due" slot was sent or folded):
            # the overdue notifiers are told once (webhooks dedupe on the "due" key).
            if plan.item.due_at <= now and plan.keys["due"] not in sent:
                overdue.append(plan)
    escalated = [escalation for key, escalation in escalated_by_key.items() if key in queued]
    result.escalations += len(escalated)
    _record_escalations(escalated, now)
    if overdue:
        for notify in _overdue_notifiers():
            notify([(plan.kind, plan.item, plan.keys["due"]) for plan in overdue])
    return retry


def _remember_next_looks(kind: str, items: list, *, now, policies: dict, retry: set) -> None:
    """Write each item's next look (``next_reminder_at``) in one statement, so
    that later sweeps skip it until then; an item with a slot and nobody to tell
    is looked at again within ``RETRY_NOBODY_AFTER``. An item whose due date or
    snooze changed since it was read keeps the "next sweep" that change set: the
    condition on both columns re-checks the row as it is when the update gets to it."""
    rows = []
    for item in items:
        at = next_look(due_at=item.due_at, snoozed_until=item.snoozed_until, policy=policies[item.incident.org_id],
                       now=now)
        if item.pk in retry:
            at = min(at, now + RETRY_NOBODY_AFTER) if at else now + RETRY_NOBODY_AFTER
        rows.append((item.pk, item.due_at, item.snoozed_until, at))
    model = LearningTask if kind == TASK else FollowUp
    values = ", ".join(["(%s::bigint, %s::timestamptz, %s::timestamptz, %s::timestamptz)"] * len(rows))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {model._meta.db_table} AS item SET next_reminder_at = looked.next_at "
            f"FROM (VALUES {values}) AS looked (id, due_at, snoozed_until, next_at) "
            "WHERE item.id = looked.id AND item.due_at = looked.due_at "
            "AND item.snoozed_until IS NOT DISTINCT FROM looked.snoozed_until",
            [value for row in rows for value in row],
        )


def _role_holders(incident_ids) -> dict:
    """(incident id, role id) → user, and (incident id, "lead") → (user, role name)."""
    holders = {}
    for assignment in IncidentRoleAssignment.objects.filter(incident_id__in=incident_ids).select_related(
        "user", "role"
    ):
        holders[(assignment.incident_id, assignment.role_id)] = (assignment.user, assignment.role.name)
        if assignment.role.kind == RoleKind.LEAD:
            holders[(assignment.incident_id, RoleKind.LEAD)] = (assignment.user, assignment.role.name)
    return holders


def _owner(plan: _Plan, holders: dict):
    """Whom the item's reminders go to: its assignee; an unassigned task's
    assignee role's holder; else the incident lead."""
    item = plan.item
    if item.assignee_id:
        return item.assignee
    if plan.kind == TASK and item.assignee_role_id and (item.incident_id, item.assignee_role_id) in holders:
        return holders[(item.incident_id, item.assignee_role_id)][0]
    lead = holders.get((item.incident_id, RoleKind.LEAD))
    return lead[0] if lead else None


def _escalation_recipient(incident_id: int, policy: ReminderPolicy, holders: dict):
    if policy.escalate_to_role_id and (incident_id, policy.escalate_to_role_id) in holders:
        return holders[(incident_id, policy.escalate_to_role_id)]
    return holders.get((incident_id, RoleKind.LEAD), (None, ""))


def _record_escalations(escalated: list, now) -> None:
    """The ``overdue_escalated`` events of the escalations this sweep queued, ``[(plan, told, role name), …]``,
    written together: the timeline listeners pass over this kind without a query, so a batch's events cost
    the same few queries however many there are."""
    entries = []
    for plan, told, role_name in escalated:
        item = plan.item
        late = (now - item.due_at).days
        entries.append((
            item.incident,
            f"“{item.title}” is {late} day{'s' if late != 1 else ''} overdue: {told.display_name} ({role_name}) was told",
            {f"{plan.kind}_id": str(item.public_id), "due_at": item.due_at.isoformat(), "told": told.pk},
        ))
    timeline_record_many(kind=EventKind.OVERDUE_ESCALATED, actor=Actor.system(), entries=entries)


@cache
def _overdue_notifiers() -> list:
    """Other apps told when work goes past its due date (``settings.OVERDUE_NOTIFIERS``:
    webhooks), named in settings so the learning app does not import them. Each is
    called in the sweep's transaction with ``[(kind, item, key), …]``, ``key``
    naming the fact once (the item's "due" slot)."""
    return [import_string(path) for path in getattr(settings, "OVERDUE_NOTIFIERS", [])]


# --- Snoozing --------------------------------------------------------------------------------------


def item_kind(item) -> str:
    return TASK if isinstance(item, LearningTask) else FOLLOW_UP


def _is_outstanding(item) -> bool:
    return item.state == TaskState.OUTSTANDING if isinstance(item, LearningTask) else (
        item.status == FollowUpStatus.OUTSTANDING)


@transaction.atomic
def reminder_snooze(*, item, actor: Actor, until: datetime | None, reason: str = ""):
    """No reminders about ``item`` (a learning task or a follow-up) before ``until``;
    snoozing again replaces the earlier snooze. Recorded on the incident's timeline."""
    reason = limits.check_length((reason or "").strip(), limit=limits.REASON, field="reason", what="the reason")
    now = timezone.now()
    if until is None or timezone.is_naive(until):
        raise ServiceError("Say until when to snooze the reminders.", field="until")
    if until <= now:
        raise ServiceError("Choose a moment in the future to snooze until.", field="until")
    if until > now + timedelta(days=SNOOZE_MAX_DAYS):
        raise ServiceError(f"Reminders can be snoozed for at most {SNOOZE_MAX_DAYS} days.", field="until")
    incident = lock_incident(item.incident)
    item = type(item).objects.select_for_update().get(pk=item.pk)
    item.incident = incident
    if not _is_outstanding(item):
        raise ServiceError(f"“{item.title}” is already addressed: it has no reminders to snooze.")
    item.snoozed_until = until
    item.save(update_fields=["snoozed_until"])
    kind = item_kind(item)
    text = f"Reminders about “{item.title}” snoozed until {say.local_time(until, incident.org)}"
    timeline_record(
        incident=incident, kind=EventKind.REMINDER_SNOOZED, actor=actor,
        text=text + (f": {reason}" if reason else ""),
        data={f"{kind}_id": str(item.public_id), "until": until.isoformat(), "reason": reason},
    )
    return item


def snooze_until_day(day, org) -> datetime:
    """A day picked in a date field or Slack's date picker: 09:00 that day, in the org's time zone."""
    return datetime(day.year, day.month, day.day, 9, 0, tzinfo=say.org_zone(org))


# --- The policy ------------------------------------------------------------------------------------


def reminder_policy_get(*, org) -> ReminderPolicy:
    """The org's policy; the defaults (unsaved) for an org that never changed it."""
    return ReminderPolicy.objects.select_related("escalate_to_role").filter(org=org).first() or ReminderPolicy(
        org=org)


@transaction.atomic
def reminder_policy_update(*, org, remind_before_hours: int, repeat_every_days: int,
                           escalate_after_days: int | None, escalate_to_role=None) -> ReminderPolicy:
    limits_by_field = {"remind_before_hours": (remind_before_hours, 24 * 30, "hours"),
                       "repeat_every_days": (repeat_every_days, 365, "days")}
    if escalate_after_days is not None:
        limits_by_field["escalate_after_days"] = (escalate_after_days, 365, "days")
    for name, (value, most, unit) in limits_by_field.items():
        if not isinstance(value, int) or not 0 <= value <= most:
            raise ServiceError(f"Enter a whole number of {unit} from 0 to {most}.", field=name)
    if escalate_to_role is not None and escalate_to_role.org_id != org.pk:
        raise ServiceError("Unknown role.", field="escalate_to_role")
    policy, _ = ReminderPolicy.objects.select_for_update().get_or_create(org=org)
    policy.remind_before_hours = remind_before_hours
    policy.repeat_every_days = repeat_every_days
    policy.escalate_after_days = escalate_after_days
    policy.escalate_to_role = escalate_to_role
    policy.save()
    # The org's items' next looks were worked out with the old policy: the next sweep works them out again.
    LearningTask.objects.filter(org=org, state=TaskState.OUTSTANDING, due_at__isnull=False).update(
        next_reminder_at=LOOK_AT_NEXT_SWEEP)
    FollowUp.objects.filter(incident__org=org, status=FollowUpStatus.OUTSTANDING, due_at__isnull=False).update(
        next_reminder_at=LOOK_AT_NEXT_SWEEP)
    return policy
