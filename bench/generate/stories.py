"""One incident's history, written the way the services would have written it.

A :class:`Story` walks an incident from its declaration to where its bucket
says it is now, recording what the product records on the way: the incident's
timestamps, timeline events (same kinds, texts and ``data`` as the services in
``incidentio/incidents/services`` and ``learning/services``), role assignments, learning
tasks (snapshots of the org's templates), post-mortems, follow-ups and, in an
org with Slack, the task messages of running flows. Times are epoch seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from bench.generate import scales as b
from bench.generate import words
from bench.generate.model import Member, Org, Status, Template

SYSTEM = ("system", None, "incidentio", "")
MANUAL_KINDS = ("review_timeline", "update_timestamps", "review_follow_ups", "custom")
WHY = {
    "create_postmortem": "a post-mortem was created",
    "complete_postmortem": "the post-mortem was marked completed",
    "share_postmortem": "the post-mortem was shared",
    "create_follow_ups": "a follow-up was created",
}


@dataclass
class Plan:
    """What the generator decided about an incident before writing its story."""

    id: int
    public_id: str
    number: int
    bucket: str
    t0: float
    severity: object | None  # model.Severity
    lead: Member | None
    channel: str = ""
    timeline_events: int | None = None  # pad the timeline to exactly this many events
    designated: bool = False  # led by the designated assignee: no hand reassignment


class Task:
    __slots__ = ("public_id", "template", "status", "assignee", "manual", "state", "reason", "addressed_at",
                 "addressed_by", "auto", "rank", "created_at")

    def __init__(self, public_id: str, template: Template, status: Status, assignee: int | None, rank: int,
                 created_at: float):
        self.public_id = public_id
        self.template = template
        self.status = status
        self.assignee = assignee
        self.manual = False
        self.state = "outstanding"
        self.reason = ""
        self.addressed_at: float | None = None
        self.addressed_by: int | None = None
        self.auto = False
        self.rank = rank
        self.created_at = created_at


class Story:
    def __init__(self, gen, org: Org, plan: Plan):
        self.gen = gen
        self.rng = gen.rng
        self.org = org
        self.plan = plan
        self.horizon = gen.anchor - 300  # nothing happens after "now"
        self.events: list[list] = []  # [t, kind, actor, text, data, permalink]
        self.tasks: list[Task] = []
        self.assignments: list[tuple[int, int, float]] = []  # (role id, user id, at)
        self.postmortem: dict | None = None
        self.follow_ups: list[dict] = []
        self.slack_messages: list[tuple[str, str, str, float]] = []  # (key, ts, permalink, at)
        self.vars = self._vars()
        self.name = self._name()
        self.summary = words.SUMMARIES[self.rng.randrange(len(words.SUMMARIES))].format(**self.vars)
        # Incident columns.
        self.status: Status = org.triage
        self.learning_flow = "not_entered"
        self.entered_at: float | None = None  # when it entered the learning flow (learning.LearningRun)
        self.opt_out_reason = ""
        self.opted_out_by: int | None = None
        self.created_by: int | None = None
        self.merged_into: int | None = None
        self.accepted_at = self.impact_started_at = self.identified_at = None
        self.fixed_at = self.resolved_at = self.closed_at = None

    # --- small helpers -----------------------------------------------------------------------------

    def _vars(self) -> dict:
        r = self.rng
        return {
            "service": words.SERVICES[r.randrange(len(words.SERVICES))],
            "region": words.REGIONS[r.randrange(len(words.REGIONS))],
            "pct": r.randint(2, 60), "n": r.randint(3, 900), "hour": r.randint(0, 23), "minute": r.randint(0, 59),
            "sha": f"{r.getrandbits(28):07x}", "flag": words.FLAGS[r.randrange(len(words.FLAGS))],
            "minutes": r.randint(5, 240), "summary": "",
        }

    def _name(self) -> str:
        symptom = words.SYMPTOMS[self.rng.randrange(len(words.SYMPTOMS))].format(**self.vars)
        service = self.vars["service"]
        return f"{service[0].upper()}{service[1:]} {symptom}"

    def event(self, t: float, kind: str, actor: tuple, text: str = "", data: dict | None = None) -> list:
        row = [t, kind, actor, text, data or {}, ""]
        self.events.append(row)
        return row

    def person(self, member: Member | None = None) -> tuple:
        """An actor who is a member: on the dashboard, or from Slack when linked."""
        if member is None:
            member = self.gen.pick(self.org.actors)
        if member.slack_id and self.rng.random() < 0.3:
            return ("slack_user", member.user_id, member.name, member.slack_id)
        return ("user", member.user_id, member.email, "")

    def budget(self, t: float, length: float, share: float = 1.0) -> float:
        """``length``, shortened so that ``share`` of the time left until now is the most it takes."""
        return max(1.0, min(length, (self.horizon - t) * share))

    def spread(self, start: float, end: float, count: int) -> list[float]:
        return sorted(start + (end - start) * self.rng.random() for _ in range(count))

    def lognormal(self, median: float, sigma: float, low: float, high: float) -> float:
        return min(high, max(low, median * math.exp(self.rng.gauss(0, sigma))))

    # --- the story ------------------------------------------------------------------------------------

    def build(self) -> Story:
        plan, r = self.plan, self.rng
        bucket = plan.bucket
        t0 = plan.t0
        actor = self._declarer()
        self.created_by = actor[1]
        via_triage = bucket in (b.TRIAGE, b.DECLINED, b.MERGED) or (
            bucket not in (b.BURST, b.FLOW) and r.random() < (0.5 if bucket == b.CANCELED else 0.25)
        )
        severity = plan.severity
        initial = severity
        if severity is not None and len(self.org.severities) > 1 and r.random() < 0.1 and not via_triage:
            initial = self.gen.pick([s for s in self.org.severities if s is not severity])
        first = self.org.triage if via_triage else self.org.live[0]
        self.event(t0, "declared", actor, f"INC-{plan.number} declared" + (" into triage" if via_triage else ""),
                   {"status": first.name, "severity": initial.name if initial else None})
        if actor[1] is not None and self.org.reporter_role is not None:
            self.assignments.append((self.org.reporter_role.id, actor[1], t0))
        if via_triage:
            self.status = self.org.triage
            t_live = self._triage(t0)
            if t_live is None:
                return self.finish()
        else:
            self.status = self.org.live[0]
            self.accepted_at = t_live = t0
            if plan.lead is not None:
                self._assign_lead(t0, actor)
        self._live(t_live, initial, severity, actor)
        return self.finish()

    def _declarer(self) -> tuple:
        r, org = self.rng, self.org
        if org.integration is not None and r.random() < 0.15:
            return ("api_key", None, org.integration[0], org.integration[1])
        return self.person()

    def _triage(self, t0: float) -> float | None:
        """Triage: stays, is declined, merged or canceled, or is accepted (returns when)."""
        plan, r = self.plan, self.rng
        decided = t0 + self.budget(t0, self.lognormal(1800, 1.0, 120, 6 * 3600), 0.2)
        who = self.person()
        if plan.bucket == b.TRIAGE:
            if r.random() < 0.4:
                self._update(t0 + (self.horizon - t0) * r.random(), self.person())
            return None
        if plan.bucket == b.DECLINED:
            reason = words.DECLINE_REASONS[r.randrange(len(words.DECLINE_REASONS))]
            self.status = self.org.declined
            self.closed_at = decided
            self.event(decided, "declined", who, reason, {"reason": reason})
            return None
        if plan.bucket == b.MERGED:
            target = self.gen.merge_target(self.org, plan)
            self.status = self.org.merged
            self.closed_at = decided
            self.merged_into = target.id
            self.event(decided, "merged", who, f"Merged into INC-{target.number} {target.name}",
                       {"into": target.public_id, "into_reference": f"INC-{target.number}"})
            return None
        if plan.bucket == b.CANCELED:
            self._cancel(decided, who)
            return None
        live = self.org.live[0]
        self.accepted_at = decided
        self.status = live
        self.event(decided, "accepted", who, f"Status changed from {self.org.triage.name} to {live.name}",
                   {"from": self.org.triage.name, "to": live.name, "from_id": self.org.triage.public_id,
                    "to_id": live.public_id})
        if plan.lead is not None:
            self._assign_lead(decided + r.randint(10, 600), who)
        return decided

    def _cancel(self, t: float, who: tuple) -> None:
        reason = words.CANCEL_REASONS[self.rng.randrange(len(words.CANCEL_REASONS))]
        old = self.status
        self.status = self.org.canceled
        self.closed_at = t
        self.event(t, "status_changed", who, f"Status changed from {old.name} to {self.org.canceled.name}: {reason}",
                   {"from": old.name, "to": self.org.canceled.name, "reason": reason})

    def _assign_lead(self, t: float, actor: tuple) -> None:
        lead = self.plan.lead
        role = self.org.lead_role
        if not self.plan.designated and self.rng.random() < 0.06 and len(self.org.lead_pool) > 1:
            first = self.gen.pick_lead(self.org, exclude=lead)
            self._role_event(t, actor, first)
            t = t + self.budget(t, self.lognormal(1200, 1.0, 60, 7200), 0.1)
        self._role_event(t, actor, lead)
        self.assignments.append((role.id, lead.user_id, t))

    def _role_event(self, t: float, actor: tuple, member: Member) -> None:
        role = self.org.lead_role
        self.event(t, "role_assigned", actor, f"{member.name} is now {role.name}",
                   {"role": role.name, "role_id": role.public_id, "user_id": member.user_id, "role_kind": role.kind})

    def _update(self, t: float, actor: tuple) -> None:
        text = words.UPDATES[self.rng.randrange(len(words.UPDATES))].format(**self.vars)
        self.event(t, "update_posted", actor, text)

    def _live(self, t_live: float, initial, severity, declarer: tuple) -> None:
        """Live statuses, updates and edits, then whatever ends the live phase."""
        plan, r, org = self.plan, self.rng, self.org
        bucket = plan.bucket
        still_live = bucket in (b.LIVE, b.BURST)
        if still_live:
            end = self.horizon - r.random() * min(3600.0, (self.horizon - t_live) * 0.2)
            final = len(org.live) - 1 if bucket == b.BURST else r.randrange(len(org.live))
        else:
            end = t_live + self.budget(t_live, self.lognormal(3 * 3600, 1.0, 600, 10 * 86400), 0.3)
            final = self.gen.pick_weighted(range(len(org.live)), [30, 30, 40])
            if bucket == b.CANCELED:
                final = r.randrange(min(2, len(org.live)))
        changes = self.spread(t_live, end, final)
        for index, t in enumerate(changes, start=1):
            old, new = org.live[index - 1], org.live[index]
            self.status = new
            if new.category == "live":
                milestone = self.gen.milestones.get(new.id)
                if milestone == "identified" and self.identified_at is None:
                    self.identified_at = t
                elif milestone == "fixed" and self.fixed_at is None:
                    self.fixed_at = t
            self.event(t, "status_changed", self.person(plan.lead), f"Status changed from {old.name} to {new.name}",
                       {"from": old.name, "to": new.name, "from_id": old.public_id, "to_id": new.public_id})
        leader = plan.lead
        for t in self.spread(t_live, end, self.gen.update_count(org)):
            self._update(t, self.person(leader if leader and r.random() < 0.5 else None))
        if initial is not severity:
            t = t_live + (end - t_live) * r.random() * 0.5
            self.event(t, "severity_changed", self.person(leader), f"Severity changed from {initial.name} to "
                       f"{severity.name}", {"from": initial.name, "to": severity.name})
        if self.summary and r.random() < 0.1:
            self.event(t_live + (end - t_live) * r.random(), "summary_updated", self.person(leader), self.summary)
        if still_live:
            return
        closer = self.person(leader if leader and r.random() < 0.7 else None)
        if bucket == b.CANCELED:
            self._cancel(end, closer)
            return
        self.resolved_at = end
        self.event(end, "closed", closer, "Incident closed")
        if bucket == b.CLOSED:
            self.status, self.closed_at = org.closed, end
        elif bucket == b.OPTED_OUT_AT_CLOSE:
            self._opt_out(end, closer, self.status.name)
        else:
            self._learning(end, closer)

    def _opt_out(self, t: float, actor: tuple, was: str) -> None:
        reason = words.OPT_OUT_REASONS[self.rng.randrange(len(words.OPT_OUT_REASONS))]
        self.status = self.org.closed
        self.learning_flow = "opted_out"
        self.opt_out_reason = reason
        self.opted_out_by = actor[1]
        self.closed_at = t
        self.event(t, "learning_flow_opted_out", actor, reason, {"reason": reason, "from": was})

    # --- the learning flow --------------------------------------------------------------------------------

    def _learning(self, t: float, closer: tuple) -> None:
        plan, r, org = self.plan, self.rng, self.org
        bucket = plan.bucket
        statuses = org.learning
        stop = {b.FLOW: 0, b.DOCUMENTING: 0, b.REVIEWING: min(1, len(statuses) - 1)}.get(bucket)
        if bucket == b.OPTED_OUT_IN_FLOW:
            stop = r.randrange(len(statuses))
        self.learning_flow = "running"
        self.entered_at = t
        for index, status in enumerate(statuses):
            self.status = status
            tasks = self._create_tasks(status, t)
            if index == 0:
                n = len(tasks)
                entered = self.event(t, "learning_flow_entered", closer,
                                     f"Learning flow started: {status.name} ({n} task{'s' if n != 1 else ''})",
                                     {"status": status.name, "status_id": status.public_id})
            else:
                prev = statuses[index - 1]
                entered = self.event(t, "learning_status_changed", SYSTEM,
                                     f"Every task of {prev.name} is addressed: moved to {status.name}",
                                     {"from": prev.name, "to": status.name, "to_id": status.public_id})
            here = index == stop
            running_here = here and bucket in b.RUNNING
            if running_here and org.slack_domain:
                self._task_message(status, t, entered)
            more = index + 1 < len(statuses)
            length = self.lognormal(4 * 86400, 0.8, 3600, 21 * 86400)
            end = t + self.budget(t, length, 0.4 if more and not here else 0.9)
            outstanding = self._outstanding(tasks) if here else set()
            last = self._address(tasks, t, end, outstanding)
            if here:
                if bucket == b.OPTED_OUT_IN_FLOW:
                    t_out = max(last, t) + self.budget(max(last, t), r.uniform(600, 86400), 0.5)
                    for task in self.tasks:
                        if task.state == "outstanding":
                            task.state, task.reason = "not_doing", "The learning flow was opted out of."
                            task.addressed_at, task.addressed_by = t_out, None
                    self._opt_out(t_out, self.person(plan.lead), status.name)
                return
            t = last + r.randint(1, 20)
            for task in tasks:  # optional tasks left open do not hold the incident back
                if task.state == "outstanding":
                    task.state, task.reason = "not_doing", "Optional; left open when the incident moved on."
                    task.addressed_at = t
        last_status = statuses[-1]
        self.status = self.org.closed
        self.learning_flow = "completed"
        self.closed_at = t
        self.event(t, "learning_flow_completed", SYSTEM, f"Every task of {last_status.name} is addressed: the "
                   "learning flow is complete and the incident is closed", {"from": last_status.name})

    def _create_tasks(self, status: Status, t: float) -> list[Task]:
        holders = {role_id: user_id for role_id, user_id, _ in self.assignments}
        tasks = []
        for rank, template in enumerate(self.org.templates.get(status.id, [])):
            assignee = holders.get(template.assignee_role_id) if template.assignee_role_id else None
            task = Task(self.gen.uuid(), template, status, assignee, rank, t)
            if self._already_done(template):
                task.state, task.auto, task.addressed_at = "completed", True, t
            tasks.append(task)
        self.tasks.extend(tasks)
        return tasks

    def _already_done(self, template: Template) -> bool:
        pm = self.postmortem
        return {
            "create_postmortem": pm is not None,
            "complete_postmortem": pm is not None and pm["status"] == "completed",
            "share_postmortem": pm is not None and pm["shared_at"] is not None,
            "create_follow_ups": bool(self.follow_ups),
        }.get(template.kind, False)

    def _outstanding(self, tasks: list[Task]) -> set[int]:
        """Which tasks of the status the incident stops in are still open (≥ 1 required one)."""
        r = self.rng
        open_required = [i for i, task in enumerate(tasks) if task.state == "outstanding" and task.template.required]
        if not open_required:
            return set()
        if self.plan.bucket == b.FLOW:  # exactly one, one a person checks off (its completion advances)
            manual = [i for i in open_required if tasks[i].template.kind in MANUAL_KINDS]
            return {(manual or open_required)[0]}
        chosen = {open_required[r.randrange(len(open_required))]}
        for i, task in enumerate(tasks):
            if task.state == "outstanding" and r.random() < 0.35:
                chosen.add(i)
        return chosen

    def _address(self, tasks: list[Task], start: float, end: float, outstanding: set[int]) -> float:
        """Address every task not in ``outstanding`` between ``start`` and ``end``; returns the last time."""
        todo = [task for i, task in enumerate(tasks) if i not in outstanding and task.state == "outstanding"]
        times = self.spread(start + 60, max(start + 120, end), len(todo))
        last = start
        for task, t in zip(todo, times, strict=True):
            self._maybe_reassign(task, start, t)
            self._address_one(task, t)
            last = max(last, t)
        for i in outstanding:
            self._maybe_reassign(tasks[i], start, end)
        return last

    def _maybe_reassign(self, task: Task, start: float, before: float) -> None:
        if self.plan.designated or self.rng.random() >= 0.05:
            return
        member = self.gen.pick_lead(self.org, exclude=None)
        if member.user_id == task.assignee:
            return
        t = start + (before - start) * self.rng.random()
        task.assignee, task.manual = member.user_id, True
        self.event(t, "task_assigned", self.person(), f"“{task.template.title}” assigned to {member.name}",
                   {"task_id": task.public_id, "user_id": member.user_id})

    def _worker(self, task: Task) -> tuple:
        if task.assignee is not None and self.rng.random() < 0.8:
            member = self.gen.members_by_id[task.assignee]
            return self.person(member)
        return self.person()

    def _address_one(self, task: Task, t: float) -> None:
        r = self.rng
        kind = task.template.kind
        who = self._worker(task)
        pm = self.postmortem
        if kind == "create_postmortem" and r.random() < 0.9:
            self.postmortem = {"public_id": self.gen.uuid(), "status": "draft", "shared_at": None,
                               "created_by": who[1], "created_at": t, "updated_at": t}
            self.event(t, "postmortem_created", who, "Post-mortem created")
            return self._auto(task, t)
        if kind == "create_follow_ups" and r.random() < 0.85:
            self._follow_up(t, who)
            for extra in self.spread(t, t + self.budget(t, 3 * 86400, 0.3), int(r.random() < 0.25)):
                self._follow_up(extra, self.person())
            return self._auto(task, t)
        if kind == "complete_postmortem" and pm is not None and r.random() < 0.85:
            old = "Draft"
            if r.random() < 0.3:  # some go through review first
                old = "In review"
                self.event((task.created_at + t) / 2, "postmortem_status_changed", who, "Post-mortem marked in review",
                           {"from": "Draft", "to": "in_review"})
            self.event(t, "postmortem_status_changed", who, "Post-mortem marked completed",
                       {"from": old, "to": "completed"})
            pm["status"], pm["updated_at"] = "completed", t
            return self._auto(task, t)
        if kind == "share_postmortem" and pm is not None and r.random() < 0.75:
            self.event(t, "postmortem_shared", who, "Post-mortem shared")
            pm["shared_at"] = pm["updated_at"] = t
            return self._auto(task, t)
        no_postmortem = kind in ("complete_postmortem", "share_postmortem") and pm is None
        if no_postmortem or r.random() < (0.2 if kind == "schedule_debrief" else 0.1):
            reason = "No post-mortem for this incident." if no_postmortem else words.NOT_DOING_REASONS[
                r.randrange(len(words.NOT_DOING_REASONS))]
            task.state, task.reason, task.addressed_at, task.addressed_by = "not_doing", reason, t, who[1]
            text = f"“{task.template.title}” marked not doing" + (f": {reason}" if reason else "")
            self.event(t, "task_not_doing", who, text, {"task_id": task.public_id, "reason": reason})
            return
        if kind == "update_timestamps" and r.random() < 0.5:  # others found them right
            started = self.plan.t0 - r.randint(5, 90) * 60
            self.impact_started_at = started
            when = datetime.fromtimestamp(started, UTC)
            self.event(t - 30, "timestamps_updated", who, f"Impact started: {when:%Y-%m-%d %H:%M} UTC",
                       {"impact_started_at": when.isoformat()})
        task.state, task.addressed_at, task.addressed_by = "completed", t, who[1]
        self.event(t, "task_completed", who, f"“{task.template.title}” completed", {"task_id": task.public_id})

    def _auto(self, task: Task, t: float) -> None:
        task.state, task.auto, task.addressed_at, task.addressed_by = "completed", True, t, None
        self.event(t, "task_completed", SYSTEM,
                   f"“{task.template.title}” completed automatically: {WHY[task.template.kind]}",
                   {"task_id": task.public_id, "automatic": True})

    def _follow_up(self, t: float, who: tuple) -> None:
        r = self.rng
        title = words.FOLLOW_UPS[r.randrange(len(words.FOLLOW_UPS))].format(**self.vars)
        item = {"public_id": self.gen.uuid(), "title": title, "created_at": t, "created_by": who[1],
                "assignee": self.gen.pick(self.org.actors).user_id if r.random() < 0.8 else None,
                "priority": ("low", "medium", "high", "urgent")[r.randrange(4)], "status": "outstanding",
                "completed_at": None, "reason": ""}
        self.follow_ups.append(item)
        self.event(t, "follow_up_created", who, f"Follow-up created: {title}", {"follow_up_id": item["public_id"]})
        fate = r.random()
        later = t + self.budget(t, r.uniform(86400, 30 * 86400), 0.8)
        if fate < 0.3:
            item["status"], item["completed_at"] = "completed", later
            self.event(later, "follow_up_completed", self.person(), f"Follow-up completed: {title}",
                       {"follow_up_id": item["public_id"]})
        elif fate < 0.4:
            item["status"] = "not_doing"
            self.event(later, "follow_up_not_doing", self.person(), f"Follow-up marked not doing: {title}",
                       {"follow_up_id": item["public_id"], "reason": ""})

    def _task_message(self, status: Status, t: float, entered: list) -> None:
        """The Slack message a running flow's tasks were posted in (edited in place later)."""
        ts = f"{int(t)}.{self.gen.next_ts():06d}"
        permalink = f"https://{self.org.slack_domain}.slack.com/archives/{self.plan.channel}/p{ts.replace('.', '')}"
        self.slack_messages.append((f"tasks:{self.plan.id}:{status.id}", ts, permalink, t))
        entered[5] = permalink

    # --- the end ------------------------------------------------------------------------------------------

    def finish(self) -> Story:
        target = self.plan.timeline_events
        if target is not None:
            live_end = self.resolved_at or self.horizon
            start = self.accepted_at or self.plan.t0
            for t in self.spread(start, live_end, max(0, target - len(self.events))):
                self._update(t, self.person())
        self.events.sort(key=_time)
        return self


def _time(row: list) -> float:
    return row[0]
