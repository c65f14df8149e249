"""Planning every org's incidents and streaming their stories into the tables.

Ids are explicit and handed out in generation order (the big org's incident id
is its number); the id sequences are reset afterwards. All randomness comes
from one ``random.Random(seed)`` consumed in a fixed order, so a seed always
makes the same rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from bench.generate import scales as b
from bench.generate.copy import NULL, CopyStream, esc, flag, jsonb, opt, ts
from bench.generate.model import Member, Org
from bench.generate.stories import Plan, Story
from bench.generate.words import POSTMORTEM

TABLES = {
    "incidentio_incident": [
        "id", "public_id", "number", "name", "summary", "slack_channel_id", "learning_flow", "opt_out_reason",
        "reported_at", "accepted_at", "impact_started_at", "identified_at", "fixed_at", "resolved_at", "closed_at",
        "updated_at", "created_by_id", "merged_into_id", "opted_out_by_id", "org_id", "status_id", "severity_id",
        "idempotency_key", "incident_type_id",
    ],
    "incidentio_timelineevent": [
        "id", "public_id", "kind", "occurred_at", "actor_kind", "actor_label", "actor_ref", "text", "data",
        "slack_permalink", "actor_user_id", "incident_id",
    ],
    "learning_learningtask": [
        "id", "public_id", "title", "instructions", "kind", "required", "assigned_manually", "state",
        "not_doing_reason", "addressed_at", "completed_automatically", "rank", "created_at", "addressed_by_id",
        "assignee_id", "assignee_role_id", "incident_id", "org_id", "status_id", "target_role_id", "template_id",
        "due_at",
    ],
    "incidentio_incidentroleassignment": ["id", "assigned_at", "incident_id", "role_id", "user_id"],
    "incidentio_postmortem": [
        "id", "public_id", "content", "status", "shared_at", "created_at", "updated_at", "created_by_id", "incident_id",
    ],
    "incidentio_followup": [
        "id", "public_id", "title", "description", "status", "priority", "not_doing_reason", "created_at",
        "completed_at", "assignee_id", "created_by_id", "incident_id", "idempotency_key", "due_at", "org_id",
    ],
    "learning_learningrun": ["id", "entered_at", "flow_id", "incident_id"],
    "slackbot_slackmessage": [
        "id", "key", "channel_id", "ts", "permalink", "content_hash", "created_at", "updated_at", "incident_id",
        "org_id", "outbox_id",
    ],
}


#: Due dates (no random draw, so a seed makes the same rows as before they existed):
#: required tasks are due this long after they were created, follow-ups by priority
#: after they were created (low ones have none), as the orgs' due rules would set.
TASK_DUE_SECONDS = 5 * b.DAY
FOLLOW_UP_DUE_SECONDS = {"urgent": 3 * b.DAY, "high": 10 * b.DAY, "medium": 30 * b.DAY}


# The bits uuid.UUID(version=4) forces: version 4, RFC 4122 variant.
_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48)) & ((1 << 128) - 1)
_UUID_SET = (4 << 76) | (0x8000 << 48)


@dataclass
class Written:
    """What a merge needs to know about an incident written earlier."""

    id: int
    number: int
    public_id: str
    name: str
    bucket: str


class Generator:
    def __init__(self, *, seed: int, anchor: float, scale: b.Scale):
        self.rng = random.Random(seed)
        self.anchor = anchor
        self.scale = scale
        self.fixtures: dict = {}
        self.milestones: dict[int, str] = {}
        self.members_by_id: dict[int, Member] = {}
        self.ids = dict.fromkeys(TABLES, 0)
        self._ts = 0
        self._written: dict[int, list[Written]] = {}
        self.streams: dict[str, CopyStream] = {}
        self.designated: Member | None = None
        self._template_columns: dict[int, tuple] = {}

    # --- randomness ---------------------------------------------------------------------------------

    def uuid(self) -> str:
        """``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, without the object."""
        n = (self.rng.getrandbits(128) & _UUID_CLEAR) | _UUID_SET
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def pick(self, items):
        return items[self.rng.randrange(len(items))]

    def pick_weighted(self, items, weights):
        items = list(items)
        if len(weights) != len(items):
            return self.pick(items)
        return self.rng.choices(items, weights=weights)[0]

    def pick_lead(self, org: Org, exclude: Member | None) -> Member:
        """A responder, some far more often than others (who leads incidents is uneven)."""
        for _ in range(20):
            member = self.rng.choices(org.lead_pool, cum_weights=org.lead_weights)[0]
            if member is not exclude:
                return member
        return next(m for m in org.lead_pool if m is not exclude)

    def update_count(self, org: Org) -> int:
        if org.big:
            return self.rng.choices((0, 1, 2, 3, 5), weights=(48, 30, 13, 6, 3))[0]
        return self.rng.choices((0, 1, 2), weights=(50, 40, 10))[0]

    def next_ts(self) -> int:
        self._ts += 1
        return self._ts

    def merge_target(self, org: Org, plan: Plan) -> Written:
        written = self._written[org.id]
        recent = written[max(0, len(written) - 30):]
        candidates = [w for w in recent if w.bucket not in (b.MERGED, b.DECLINED, b.CANCELED)]
        return self.pick(candidates or recent)

    # --- planning -----------------------------------------------------------------------------------------

    def _t0(self, bucket: str) -> float:
        low, high, recent = b.WINDOWS[bucket]
        u = self.rng.random()
        days = low + (high - low) * (u * u if recent else u)
        return self.anchor - days * b.DAY

    def _severity(self, org: Org, bucket: str):
        if bucket == b.BURST:  # exactly the auto-enter threshold: closing them enters the flow
            return next(s for s in org.severities if s.rank == org.auto_enter_rank)
        if bucket == b.TRIAGE and self.rng.random() < 0.5:
            return None
        weights = [55, 32, 10][: len(org.severities)] if len(org.severities) <= 3 else [1] * len(org.severities)
        if self.rng.random() < 0.03:
            return None
        return self.pick_weighted(org.severities, weights)

    def _lead_pool(self, org: Org, exclude: Member | None) -> None:
        org.lead_pool = [m for m in org.actors if m is not exclude] or org.actors
        self.rng.shuffle(org.lead_pool)  # who leads most is not a matter of role
        total = 0.0
        org.lead_weights = []
        for rank, _ in enumerate(org.lead_pool):
            total += 1.0 / (rank + 30)  # a long tail: the busiest leads about 2 % of incidents
            org.lead_weights.append(total)

    def plan_big_org(self, org: Org) -> list[Plan]:
        scale = self.scale
        counts = b.big_org_counts(scale)
        buckets = [bucket for bucket, count in counts.items() for _ in range(count)]
        # The designated assignee: the first responder, with a known share of the tasks.
        self.designated = next(m for m in org.members if m.role == "responder")
        self._lead_pool(org, self.designated)
        plans = self._plans(org, buckets, first_id=self.ids["incidentio_incident"] + 1)
        docs, reviews, completed = scale.assignee_incidents
        by_bucket: dict[str, list[Plan]] = {}
        for plan in plans:
            by_bucket.setdefault(plan.bucket, []).append(plan)
        designated = []
        for bucket, count in ((b.DOCUMENTING, docs), (b.REVIEWING, reviews), (b.COMPLETED, completed)):
            designated += self.rng.sample(by_bucket[bucket], count)
        for plan in designated:
            plan.lead, plan.designated = self.designated, True
        timeline = self.pick([p for p in by_bucket[b.COMPLETED] if not p.designated])
        timeline.timeline_events = scale.timeline_events
        for plan in by_bucket[b.BURST] + by_bucket[b.FLOW]:  # spread across responders: one DM channel each
            plan.lead = self.pick(org.lead_pool)
        self.fixtures["timeline_plan"] = timeline
        self.fixtures["flow_plans"] = by_bucket[b.FLOW]
        self.fixtures["burst_plans"] = by_bucket[b.BURST]
        return plans

    def plan_small_org(self, org: Org) -> list[Plan]:
        low, high = self.scale.small_org_incidents
        mix = b.SMALL_ORG_MIX
        buckets = self.rng.choices([m[0] for m in mix], weights=[m[1] for m in mix], k=self.rng.randint(low, high))
        self._lead_pool(org, None)
        return self._plans(org, buckets, first_id=self.ids["incidentio_incident"] + 1)

    def _plans(self, org: Org, buckets: list[str], first_id: int) -> list[Plan]:
        timed = sorted((self._t0(bucket), bucket) for bucket in buckets)
        if timed and timed[0][1] == b.MERGED:  # nothing earlier to merge into
            timed[0] = (timed[0][0], b.DECLINED)
        plans = []
        for index, (t0, bucket) in enumerate(timed):
            number = index + 1
            lead = None
            if bucket not in (b.TRIAGE, b.DECLINED, b.MERGED) and self.rng.random() < (
                0.97 if bucket in b.ENTERED_FLOW else 0.92
            ):
                lead = self.pick_lead(org, None)
            plans.append(Plan(
                id=first_id + index, public_id=self.uuid(), number=number, bucket=bucket, t0=t0,
                severity=self._severity(org, bucket), lead=lead,
                channel=f"C{number:09d}" if org.slack_domain else "",
            ))
        return plans

    # --- writing --------------------------------------------------------------------------------------------

    def open(self, dsn: str, *, skip_triggers: bool) -> None:
        for table, columns in TABLES.items():
            self.streams[table] = CopyStream(dsn, table, columns, skip_triggers=skip_triggers)

    def close(self) -> None:
        for stream in self.streams.values():
            stream.close()
        for stream in self.streams.values():  # parents first (incidents), then the rest
            stream.commit()

    def abort(self) -> None:
        for stream in self.streams.values():
            stream.abort()

    def run_org(self, org: Org, plans: list[Plan]) -> None:
        self._written[org.id] = written = []
        for plan in plans:
            story = Story(self, org, plan).build()
            self.write(org, plan, story)
            written.append(Written(plan.id, plan.number, plan.public_id, story.name, plan.bucket))
        self.ids["incidentio_incident"] = plans[-1].id if plans else self.ids["incidentio_incident"]
        self.fixtures.setdefault("last_numbers", {})[org.id] = len(plans)

    def write(self, org: Org, plan: Plan, s: Story) -> None:
        ids, streams = self.ids, self.streams
        incident = str(plan.id)
        updated = max(s.events[-1][0], plan.t0)
        streams["incidentio_incident"].row(
            incident, plan.public_id, str(plan.number), esc(s.name), esc(s.summary), plan.channel, s.learning_flow,
            esc(s.opt_out_reason), ts(plan.t0), ts(s.accepted_at), ts(s.impact_started_at), ts(s.identified_at),
            ts(s.fixed_at), ts(s.resolved_at), ts(s.closed_at), ts(updated), opt(s.created_by), opt(s.merged_into),
            opt(s.opted_out_by), str(org.id), str(s.status.id), opt(plan.severity.id if plan.severity else None), NULL,
            str(org.default_type_id),
        )
        if s.entered_at is not None:  # the flow it entered, as learning.services.flow records it
            ids["learning_learningrun"] += 1
            streams["learning_learningrun"].row(
                str(ids["learning_learningrun"]), ts(s.entered_at), str(org.default_flow_id), incident,
            )
        events = streams["incidentio_timelineevent"]
        for t, kind, actor, text, data, permalink in s.events:
            ids["incidentio_timelineevent"] += 1
            events.row(
                str(ids["incidentio_timelineevent"]), self.uuid(), kind, ts(t), actor[0], esc(actor[2]), actor[3],
                esc(text), jsonb(data), permalink, opt(actor[1]), incident,
            )
        tasks = streams["learning_learningtask"]
        for task in s.tasks:
            ids["learning_learningtask"] += 1
            template = task.template
            fixed = self._template_columns.get(template.id)
            if fixed is None:  # the same for every task of the template: format once
                fixed = self._template_columns[template.id] = (
                    esc(template.title), esc(template.instructions), template.kind, flag(template.required),
                    opt(template.assignee_role_id), opt(template.target_role_id), str(template.id),
                )
            title, instructions, kind, required, assignee_role, target_role, template_id = fixed
            tasks.row(
                str(ids["learning_learningtask"]), task.public_id, title, instructions, kind, required,
                flag(task.manual), task.state, esc(task.reason), ts(task.addressed_at), flag(task.auto),
                str(task.rank), ts(task.created_at), opt(task.addressed_by), opt(task.assignee), assignee_role,
                incident, str(org.id), str(task.status.id), target_role, template_id,
                ts(task.created_at + TASK_DUE_SECONDS) if template.required else NULL,
            )
        assignments = streams["incidentio_incidentroleassignment"]
        for role_id, user_id, at in s.assignments:
            ids["incidentio_incidentroleassignment"] += 1
            assignments.row(str(ids["incidentio_incidentroleassignment"]), ts(at), incident, str(role_id),
                            str(user_id))
        pm = s.postmortem
        if pm is not None:
            ids["incidentio_postmortem"] += 1
            content = POSTMORTEM.format(**{**s.vars, "summary": s.summary or s.name})
            streams["incidentio_postmortem"].row(
                str(ids["incidentio_postmortem"]), pm["public_id"], esc(content), pm["status"], ts(pm["shared_at"]),
                ts(pm["created_at"]), ts(pm["updated_at"]), opt(pm["created_by"]), incident,
            )
        follow_ups = streams["incidentio_followup"]
        for item in s.follow_ups:
            ids["incidentio_followup"] += 1
            follow_ups.row(
                str(ids["incidentio_followup"]), item["public_id"], esc(item["title"]), "", item["status"],
                item["priority"], esc(item["reason"]), ts(item["created_at"]), ts(item["completed_at"]),
                opt(item["assignee"]), opt(item["created_by"]), incident, NULL,
                ts(item["created_at"] + FOLLOW_UP_DUE_SECONDS[item["priority"]])
                if item["priority"] in FOLLOW_UP_DUE_SECONDS else NULL,
                str(org.id),
            )
        messages = streams["slackbot_slackmessage"]
        for key, stamp, permalink, at in s.slack_messages:
            ids["slackbot_slackmessage"] += 1
            messages.row(str(ids["slackbot_slackmessage"]), key, plan.channel, stamp, permalink, "", ts(at), NULL,
                         incident, str(org.id), NULL)
        self._record_fixtures(org, plan, s)

    def _record_fixtures(self, org: Org, plan: Plan, s: Story) -> None:
        if not org.big:
            return
        if plan.bucket == b.FLOW:
            (task,) = [t for t in s.tasks if t.state == "outstanding"]
            self.fixtures.setdefault("flow", []).append({
                "incident_id": plan.public_id, "number": plan.number, "task_id": task.public_id,
                "task_title": task.template.title, "channel": plan.channel,
            })
        elif plan.bucket == b.BURST:
            self.fixtures.setdefault("burst", []).append(
                {"incident_id": plan.public_id, "number": plan.number, "channel": plan.channel})
        if plan.timeline_events is not None:
            self.fixtures["timeline"] = {"incident_id": plan.public_id, "number": plan.number,
                                         "events": len(s.events)}
