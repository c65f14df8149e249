"""Reminders, each slot once, with real processes (docs/reliability.md, "Reminders: each slot once").

One stack (Postgres, Redis, Celery worker, the fake Slack), three faults in turn:

1. Three sweeps at once, as from two beat schedulers and the worker's own
   (each ``send_due_reminders`` in a process of its own), over follow-ups that
   are days overdue and that no sweep saw before (a late sweep: one message
   each, the latest slot) and past their escalation.
2. Redis emptied (a restart) between the sweep and the delivery: the jobs are
   lost; the beat's ``deliver_pending_outbox`` re-queues the rows.
3. The worker SIGKILLed while it posts reminders: the leases run out, the beat
   re-queues, and the new worker finds the posts Slack already had.

Every reminder and escalation row is sent and posted to Slack exactly once
(counted by the outbox id each post carries in its metadata), and each
escalation is on the timeline once.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter

import psycopg2
import pytest
import redis

from tests.live_stack import PROJECT_ROOT, StackError, wait_until

pytestmark = pytest.mark.reliability

KINDS = ("learning.reminder", "learning.overdue_escalated")

CREATE = """
from datetime import timedelta
from django.utils import timezone
from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident
from incidentio.incidents.services.follow_ups import follow_up_create
from incidentio.incidents.services.incidents import incident_declare
from orgs.models import Organization, User
acme = Organization.objects.get(slug="acme")
alice = User.objects.get(email="alice@example.com")
carol = User.objects.get(email="carol@example.com")
incident = incident_declare(org=acme, actor=Actor.for_user(alice), name="{tag}", lead=carol)
for n in range({count}):
    item = follow_up_create(incident=incident, actor=Actor.for_user(alice), title=f"{tag} {{n}}", assignee=alice)
    item.due_at = timezone.now() - timedelta(days={days}, hours=1)
    item.save(update_fields=["due_at"])
"""
SWEEP = "from learning.tasks import send_due_reminders; print('queued', send_due_reminders())"
REQUEUE = "from slackbot.tasks import deliver_pending_outbox; print('requeued', deliver_pending_outbox(older_than_seconds=0))"


def say(message: str) -> None:
    print(f"[reminders {time.strftime('%H:%M:%S')}] {message}", flush=True)


def rows(stack, sql: str, params=()) -> list[tuple]:
    conn = psycopg2.connect(stack.database_url, connect_timeout=5)
    try:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        conn.close()


def reminder_rows(stack) -> list[tuple]:
    return rows(stack, "SELECT public_id::text, state, kind, dedupe_key FROM slackbot_outboxmessage "
                       "WHERE kind = ANY(%s) ORDER BY id", (list(KINDS),))


def shells(stack, script: str, copies: int = 1) -> None:
    """``copies`` processes running ``script`` at the same moment (``manage.py shell -c``)."""
    processes = [subprocess.Popen([sys.executable, "manage.py", "shell", "-c", script], cwd=PROJECT_ROOT,
                                  env=stack.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for _ in range(copies)]
    for process in processes:
        output, _ = process.communicate(timeout=120)
        if process.returncode != 0:
            raise StackError(f"manage.py shell failed:\n{output}")
        say(output.strip().splitlines()[-1] if output.strip() else "(no output)")


def in_history(fake_slack) -> Counter:
    """Reminder posts in the fake Slack's channels, by outbox id: what people see."""
    seen = Counter()
    for messages in fake_slack.messages.values():
        for message in messages:
            metadata = message.get("metadata") or {}
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            outbox_id = (metadata.get("event_payload") or {}).get("outbox_id")
            if outbox_id:
                seen[outbox_id] += 1
    return seen


def all_sent(stack, expected: int) -> bool:
    found = reminder_rows(stack)
    if any(state == "failed" for _id, state, _kind, _key in found):
        raise AssertionError(f"reminders failed for good: {found}")
    return len(found) == expected and all(state == "sent" for _id, state, _kind, _key in found)


def check_each_once(stack, fake_slack, expected: int) -> None:
    found = reminder_rows(stack)
    assert len(found) == expected and len({key for *_rest, key in found}) == expected
    seen = in_history(fake_slack)
    twice = {public_id: seen[public_id] for public_id, *_rest in found if seen[public_id] != 1}
    assert not twice, f"reminders not posted exactly once: {twice}"


def test_reminders_each_slot_once_under_concurrent_sweeps_lost_jobs_and_a_killed_worker(live_stack, fake_slack):
    stack = live_stack
    fake_slack._server.handle_error = lambda *args: None  # the killed worker's calls end in broken pipes
    for slack_id, email in (("UALICE", "alice@example.com"), ("UCAROL", "carol@example.com")):
        fake_slack.users[slack_id] = email  # both get their DMs in Slack, not by e-mail
    stack.extra_env["SLACK_DELIVERY_LEASE_SECONDS"] = "30"
    started = time.monotonic()

    # 1. A late first sweep, three at once: six days overdue → one "overdue-3" each and one escalation each.
    stack.manage("shell", "-c", CREATE.format(tag="Late", count=6, days=6))
    stack.start_worker(concurrency=2)
    shells(stack, SWEEP, copies=3)
    expected = 6 * 2
    wait_until(lambda: all_sent(stack, expected), timeout=60, interval=0.5, what="the late reminders",
               on_timeout=lambda: stack.log_tail("worker"))
    check_each_once(stack, fake_slack, expected)
    slots = Counter(key.rsplit(":", 1)[-1] for *_rest, key in reminder_rows(stack))
    assert slots == {"overdue-3": 6, "escalation": 6}, slots  # folded: no "before", "due", "overdue-1/2"
    escalated = rows(stack, "SELECT count(*) FROM incidentio_timelineevent WHERE kind = 'overdue_escalated'")[0][0]
    assert escalated == 6
    say(f"1: three concurrent late sweeps, {expected} messages each posted once ({time.monotonic() - started:.0f}s)")

    # 2. Redis emptied between the sweep and the delivery.
    stack.stop("worker")
    stack.manage("shell", "-c", CREATE.format(tag="Redis", count=3, days=0))
    shells(stack, SWEEP)
    redis.Redis.from_url(stack.redis_url).flushdb()  # a restart without persistence: the jobs are gone
    stack.start_worker(concurrency=2)
    time.sleep(2)
    assert sum(state == "pending" for _id, state, *_ in reminder_rows(stack)) == 3, "delivered without its job"
    shells(stack, REQUEUE)  # the beat's deliver_pending_outbox
    expected += 3
    wait_until(lambda: all_sent(stack, expected), timeout=60, interval=0.5, what="the re-queued reminders",
               on_timeout=lambda: stack.log_tail("worker"))
    check_each_once(stack, fake_slack, expected)
    say(f"2: Redis emptied after the sweep; re-queued and posted once ({time.monotonic() - started:.0f}s)")

    # 3. The worker killed while it posts.
    stack.manage("shell", "-c", CREATE.format(tag="Kill", count=4, days=0))
    fake_slack.delay = 0.5  # posts stay in flight long enough to be killed mid-call
    shells(stack, SWEEP)

    def post_in_flight():
        calls = fake_slack.calls_to("chat.postMessage")
        return calls and time.monotonic() - calls[-1].at < fake_slack.delay * 0.8

    try:
        wait_until(post_in_flight, timeout=10, interval=0.01, what="a chat.postMessage in flight")
    except StackError:
        pass  # kill anyway: what is pending still has to go out once
    stack.kill_worker()
    time.sleep(0.5)
    pending = sum(state == "pending" for _id, state, *_ in reminder_rows(stack))
    say(f"3: worker killed with {pending} reminder(s) pending")
    fake_slack.delay = 0.0
    stack.start_worker(concurrency=2)
    expected += 4

    def recovered():
        shells(stack, REQUEUE)  # the beat, every 30 s in production; a leased message is left alone
        return all_sent(stack, expected)

    wait_until(recovered, timeout=90, interval=5, what="the reminders after the kill",
               on_timeout=lambda: stack.log_tail("worker"))
    check_each_once(stack, fake_slack, expected)
    say(f"3: recovered after the kill, every reminder posted once ({time.monotonic() - started:.0f}s in all)")
