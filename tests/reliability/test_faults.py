"""Faults, with real processes (issue 8): gunicorn, Celery worker and beat, Postgres,
Redis and the fake Slack, each broken on purpose while the product is busy.

1. ``test_faults_worker_sigkill_mid_delivery``: kill -9 the worker while it
   delivers Slack messages and advances incidents.
2. ``test_faults_redis_down_while_tasks_are_completed``: a private redis-server,
   killed while tasks are completed through the API, then restarted.
   ``test_faults_redis_frozen_while_tasks_are_completed``: the same server
   stopped (SIGSTOP) instead, so connections open but nothing answers.
3. ``test_faults_postgres_restart_under_load``: a private Postgres cluster,
   restarted (``pg_ctl restart -m fast``) under a stream of API requests.
4. ``test_faults_slack_500_for_a_minute``: the fake Slack answers 500 to every
   call for a minute (15 s with ``RELIABILITY_SHORT``).

The shared Postgres and Redis servers are never stopped: tests 2 and 3 run
their own. The test process talks to the stack over HTTP and reads the stack's
database with psycopg2 (never the Django ORM: Django here is the test database).
Timings are printed (``-s``) as ``[faults] ...`` lines.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
import redis
import requests

from tests.live_stack import LiveStack, StackError, free_port, wait_until
from tests.reliability.conftest import SHORT, seed_demo_stack
from tests.slack.fake_slack import Failure

pytestmark = pytest.mark.reliability

#: Outbox kinds that edit messages in place (chat.update) rather than post one.
EDIT_KINDS = ("learning.tasks_updated",)
#: Every Web API method the product calls: a Slack outage fails them all.
SLACK_METHODS = (
    "chat.postMessage", "chat.update", "chat.getPermalink", "conversations.create", "conversations.open",
    "conversations.invite", "conversations.history", "users.lookupByEmail", "users.info",
)
ALICE_SLACK_ID = "UALICE"


def say(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the stack's database, read with psycopg2 -----------------------------------------------


class LiveDb:
    """Read-only queries against the stack's database; a connection per query, so a
    restarted server is no problem."""

    def __init__(self, url: str):
        self.url = url

    def rows(self, sql: str, params=()) -> list[tuple]:
        conn = psycopg2.connect(self.url, connect_timeout=5)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            conn.close()

    def value(self, sql: str, params=()):
        return self.rows(sql, params)[0][0]

    # --- what the tests reconcile ---

    def outbox_states(self) -> Counter:
        return Counter(dict(self.rows("SELECT state, count(*) FROM slackbot_outboxmessage GROUP BY state")))

    def advances(self, incidents: list[dict]) -> dict[str, int]:
        """reference → number of learning_status_changed events, for the test's (acme) incidents."""
        return {
            f"INC-{number}": count
            for number, count in self.rows(
                """SELECT i.number, count(e.id) FROM incidentio_incident i
                   LEFT JOIN incidentio_timelineevent e ON e.incident_id = i.id AND e.kind = 'learning_status_changed'
                   WHERE i.public_id::text = ANY(%s) GROUP BY i.number""",
                ([i["id"] for i in incidents],),
            )
        }

    def posted_per_channel(self) -> Counter:
        """Messages the product recorded as posted (one SlackMessage per successful post)."""
        return Counter(dict(self.rows("SELECT channel_id, count(*) FROM slackbot_slackmessage GROUP BY channel_id")))

    def last_outbox_id(self) -> int:
        return self.value("SELECT coalesce(max(id), 0) FROM slackbot_outboxmessage")

    def unposted_sent_rows(self, after: int) -> list[tuple]:
        """Sent outbox rows (newer than ``after``) that post, not edit, without the
        SlackMessage of their post. (The demo data's older DMs to members without a
        Slack user went by e-mail.)"""
        return self.rows(
            """SELECT o.id, o.kind, o.destination FROM slackbot_outboxmessage o
               LEFT JOIN slackbot_slackmessage m ON m.outbox_id = o.id
               WHERE o.id > %s AND o.state = 'sent' AND o.kind <> ALL(%s) AND m.id IS NULL""",
            (after, list(EDIT_KINDS)),
        )

    def problems(self) -> list[tuple]:
        return self.rows(
            "SELECT id, kind, destination, state, attempts, last_error FROM slackbot_outboxmessage "
            "WHERE state <> 'sent' ORDER BY id LIMIT 20"
        )


# --- the API over HTTP -----------------------------------------------------------------------


class Api:
    def __init__(self, stack: LiveStack, key: str):
        self.stack = stack
        self.key = key
        self.session = requests.Session()

    def call(self, method: str, path: str, body: dict | None = None, *, timeout: float = 30, session=None):
        return (session or self.session).request(
            method, self.stack.url(f"/api/v2/{path.lstrip('/')}"), json=body, timeout=timeout,
            headers={"Authorization": f"Bearer {self.key}"},
        )

    def ok(self, method: str, path: str, body: dict | None = None, **kwargs) -> dict:
        response = self.call(method, path, body, **kwargs)
        if not 200 <= response.status_code < 300:
            raise AssertionError(
                f"{method} {path} answered {response.status_code}: {response.text[:2000]}\n"
                f"{self.stack.log_tail('web')}"
            )
        return response.json()

    def declare(self, name: str, *, lead: str | None = "alice@example.com") -> dict:
        body = {"name": name, "idempotency_key": f"faults-{uuid.uuid4().hex}"}
        if lead:
            body["incident_lead_id"] = lead
        return self.ok("POST", "incidents", body)["incident"]

    def close_into_flow(self, incident_id: str) -> dict:
        return self.ok("POST", f"incidents/{incident_id}/actions/close", {"learning_flow": "run"})["incident"]

    def outstanding_tasks(self, incident_id: str) -> list[dict]:
        return self.ok("GET", f"learning_tasks?incident_id={incident_id}&state=outstanding&page_size=250")[
            "learning_tasks"
        ]

    def live_statuses(self) -> list[dict]:
        statuses = self.ok("GET", "incident_statuses?page_size=250")["incident_statuses"]
        return [s for s in statuses if s.get("category") == "live"]


# --- stacks ----------------------------------------------------------------------------------


def logs(stack: LiveStack, *names: str) -> str:
    return "\n".join(stack.log_tail(name) for name in (names or ("web", "worker", "beat")))


def wait_for(stack: LiveStack, condition, *, timeout: float, what: str, extra=None):
    def details():
        parts = [extra()] if extra else []
        parts.append(logs(stack))
        return "\n".join(parts)

    try:
        return wait_until(condition, timeout=timeout, interval=0.5, what=what, on_timeout=details)
    except StackError as exc:
        raise AssertionError(str(exc)) from None


class PrivateRedis:
    """A redis-server of the test's own on a free port: killing it bothers nobody."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(self.workdir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)

        def up():
            if self.process.poll() is not None:
                raise AssertionError(f"redis-server exited: {(self.workdir / 'redis.log').read_text()[-2000:]}")
            try:
                return client.ping()
            except redis.RedisError:
                return False

        wait_until(up, timeout=20, what="the private redis-server")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGCONT)  # a frozen server cannot act on SIGKILL's cleanup otherwise
            self.process.kill()
            self.process.wait(timeout=10)

    def freeze(self) -> None:
        """SIGSTOP: the port still accepts connections (the kernel completes
        them), but nothing answers: a hung server, or one gone behind a
        half-open connection."""
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


class PrivatePostgres:
    """A Postgres cluster of the test's own (initdb into a temporary directory, run
    as the ``postgres`` user when we are root), on a free port, with trust auth."""

    def __init__(self):
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[-3]))
        if not versions:
            pytest.fail("restarting Postgres needs the server binaries (/usr/lib/postgresql/*/bin)")
        self.bin = Path(versions[-1]).parent
        self.root = Path(tempfile.mkdtemp(prefix="incidentio-faults-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    def _run(self, *args: str, timeout: float = 120) -> str:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}\n{self.log_tail()}")
        return result.stdout

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "--- postgres log ---\n" + "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no postgres log)"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                  "--no-sync")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.root}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n"
            )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def restart(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60", "restart")

    def create_database(self, name: str) -> str:
        admin = psycopg2.connect(self.url(), connect_timeout=5)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        admin.close()
        return self.url(name)

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


# --- the fake Slack --------------------------------------------------------------------------


class _Always(list):
    """A failure queue that never runs out (the fake pops one failure per call)."""

    def __init__(self, failure: Failure):
        super().__init__([failure])

    def pop(self, index: int = -1) -> Failure:
        return self[0]


@contextmanager
def slack_outage(fake, *, status: int = 500):
    """Every Web API call fails with ``status`` while inside. Yields a dict that gets
    ``first``/``end``: the indexes in ``fake.calls`` of the first and of the first
    call after the outage (calls in between are the ones that failed)."""
    window = {}
    with fake._lock:
        for method in SLACK_METHODS:
            fake.failures[method] = _Always(Failure(status=status))
        window["first"] = len(fake.calls)
    try:
        yield window
    finally:
        with fake._lock:
            for method in SLACK_METHODS:
                fake.failures.pop(method, None)
            window["end"] = len(fake.calls)


def all_sent(db: LiveDb) -> bool:
    """True once every outbox row is sent; a row that failed for good fails the test at once."""
    states = db.outbox_states()
    if states["failed"]:
        raise AssertionError(f"outbox rows failed for good: {db.problems()}")
    return set(states) == {"sent"}


def posts_per_channel(calls) -> Counter:
    return Counter(call.params.get("channel") for call in calls if call.method == "chat.postMessage")


def first_line(call) -> str:
    return str(call.params.get("text", "")).split("\n")[0][:120]


def duplicate_posts(calls) -> list[tuple[str, str, int]]:
    """(channel, first line of text, times) posted more than once."""
    counts = Counter((c.params.get("channel"), first_line(c)) for c in calls if c.method == "chat.postMessage")
    return sorted((channel, text, n) for (channel, text), n in counts.items() if n > 1)


def reconcile_exactly_once(db: LiveDb, calls, stack: LiveStack, *, after: int) -> None:
    """Every post the product committed reached Slack exactly once, and Slack got no
    post the product does not know about."""
    posted = db.posted_per_channel()
    slack = posts_per_channel(calls)
    unposted = db.unposted_sent_rows(after)
    assert unposted == [], f"sent outbox rows without their Slack post: {unposted}\n" + logs(stack, "worker")
    assert slack == posted, (
        "chat.postMessage calls per channel differ from the posts the product recorded "
        f"(Slack got {dict(slack)}, the product recorded {dict(posted)}); duplicated: {duplicate_posts(calls)}\n"
        + logs(stack, "worker")
    )


# --- 1. SIGKILL the worker mid-delivery ------------------------------------------------------


def test_faults_worker_sigkill_mid_delivery(live_stack, fake_slack):
    """kill -9 of the worker while it posts to Slack (the fake answers in 0.3 s) and
    advances incidents (one advance is held in flight by a row lock the test
    takes on its incident); a new worker and the beat finish the job.

    Proves: every incident advanced exactly once (one learning_status_changed
    event, one set of next-status tasks); no message lost (every outbox row sent,
    each with its Slack post); every message posted exactly once — also the posts
    that had reached Slack when the kill landed and whose commit it prevented
    ("in doubt"): their leases run out, and the new worker finds them in the
    channel's history (by their outbox id in the message metadata) instead of
    posting them again.
    """
    stack, db = live_stack, LiveDb(live_stack.database_url)
    fake_slack._server.handle_error = lambda *args: None  # the killed worker's calls end in broken pipes
    incidents_n = 5 if SHORT else 8
    concurrency = 2
    fake_slack.users[ALICE_SLACK_ID] = "alice@example.com"  # task DMs go to Slack too
    # The killed worker's messages are held for the lease, then re-queued by the beat.
    stack.extra_env["SLACK_DELIVERY_LEASE_SECONDS"] = "30"
    stack.start_web()
    stack.start_beat()  # deliver_pending_outbox (30 s) and repair_stuck_incidents (60 s) recover lost jobs
    stack.start_worker(concurrency=concurrency)
    api = Api(stack, stack.api_key)
    wait_for(stack, lambda: all_sent(db), timeout=60, what="the demo data's messages to go out")
    baseline = db.last_outbox_id()
    fake_slack.delay = 0.3  # deliveries stay in flight long enough to be killed mid-call

    incidents = [api.declare(f"Kill nine {n}") for n in range(incidents_n)]
    wait_for(stack, lambda: db.value(
        "SELECT count(*) FROM incidentio_incident WHERE slack_channel_id <> '' AND public_id::text = ANY(%s)",
        ([i["id"] for i in incidents],)) == incidents_n, timeout=60, what="the incident channels")
    for incident in incidents:
        api.close_into_flow(incident["id"])
    # The middle incident's row stays locked from the moment its last task is done:
    # its advance job blocks in the worker (lock_incident) and is in flight at the kill.
    # FOR NO KEY UPDATE: deliveries for it (rows referencing it) go on meanwhile.
    stuck = incidents[incidents_n // 2]
    holder = psycopg2.connect(stack.database_url)
    try:
        for incident in incidents:
            for task in api.outstanding_tasks(incident["id"]):
                api.ok("POST", f"learning_tasks/{task['id']}/actions/complete")
            if incident is stuck:
                with holder.cursor() as cursor:
                    cursor.execute(
                        "SELECT id FROM incidentio_incident WHERE public_id = %s FOR NO KEY UPDATE", (stuck["id"],)
                    )
        say(f"kill: {incidents_n} incidents closed and their Documenting tasks completed; {stuck['reference']} locked")
        assert db.advances([stuck]) == {stuck["reference"]: 0}, "the locked incident advanced before it was locked"

        def advance_blocked():
            return db.value(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s AND pid <> %s",
                ("%FOR UPDATE%", holder.get_backend_pid()),
            )

        wait_for(stack, advance_blocked, timeout=90, what=f"the worker to block advancing {stuck['reference']}")

        def post_in_flight():
            calls = fake_slack.calls_to("chat.postMessage")
            return calls and time.monotonic() - calls[-1].at < fake_slack.delay * 0.8

        try:
            wait_until(post_in_flight, timeout=3, interval=0.01, what="a chat.postMessage in flight")
            post_was_in_flight = True
        except StackError:
            post_was_in_flight = False  # kill anyway: the advance is in flight
        stack.kill_worker()
        killed_at = time.monotonic()
    finally:
        holder.rollback()
        holder.close()
    time.sleep(0.5)  # the killed connections' transactions are rolled back
    advanced_at_kill = sum(db.advances(incidents).values())
    committed_at_kill = db.posted_per_channel()
    states_at_kill = db.outbox_states()
    say(f"kill: SIGKILL with {advanced_at_kill}/{incidents_n} advanced, outbox {dict(states_at_kill)}")
    assert db.advances([stuck]) == {stuck["reference"]: 0}, "the advance in flight at the kill committed"
    assert states_at_kill["pending"] > 0, "every message was delivered before the kill: nothing to prove"

    with fake_slack._lock:
        calls_before_restart = len(fake_slack.calls)
    fake_slack.delay = 0.05
    stack.start_worker(concurrency=concurrency)
    restarted_at = time.monotonic()

    def recovered():
        advances = db.advances(incidents)
        return len(advances) == incidents_n and all(advances.values()) and all_sent(db)

    wait_for(
        stack, recovered, timeout=200, what="every incident advanced and every message sent after the restart",
        extra=lambda: f"advances {db.advances(incidents)}, outbox {dict(db.outbox_states())}, not sent {db.problems()}",
    )
    say(f"kill: recovered {time.monotonic() - restarted_at:.1f}s after the restart "
        f"({incidents_n - advanced_at_kill} advance(s) and {states_at_kill['pending']} message(s) left at the kill)")
    time.sleep(2)  # anything still running would show up as an extra call now

    # Every incident advanced exactly once.
    advances = db.advances(incidents)
    assert advances == {i["reference"]: 1 for i in incidents}, f"advances per incident: {advances}\n{logs(stack)}"
    ids = ([i["id"] for i in incidents],)
    task_sets = db.rows(
        """SELECT i.number, s.name, count(t.id) FROM learning_learningtask t
           JOIN incidentio_incident i ON i.id = t.incident_id JOIN incidentio_incidentstatus s ON s.id = t.status_id
           WHERE i.public_id::text = ANY(%s) GROUP BY i.number, s.name""",
        ids,
    )
    assert sorted({(name, n) for _, name, n in task_sets}) == [("Documenting", 4), ("Reviewing", 4)], (
        f"each incident gets one set of tasks per learning status: {task_sets}"
    )
    statuses = db.rows(
        "SELECT i.number, s.name FROM incidentio_incident i JOIN incidentio_incidentstatus s ON s.id = i.status_id "
        "WHERE i.learning_flow = 'running' AND i.public_id::text = ANY(%s)",
        ids,
    )
    assert {name for _, name in statuses} == {"Reviewing"} and len(statuses) == incidents_n, statuses

    # No message lost.
    assert db.unposted_sent_rows(baseline) == [], "sent outbox rows without their Slack post"

    # Exactly once, the posts in doubt at the kill included.
    calls = list(fake_slack.calls)
    before, after = calls[:calls_before_restart], calls[calls_before_restart:]
    assert all(c.at <= restarted_at for c in before) and all(c.at >= killed_at for c in after)
    posted = db.posted_per_channel()
    in_doubt = posts_per_channel(before) - committed_at_kill
    if post_was_in_flight:
        assert sum(in_doubt.values()) >= 1, "a post was in flight at the kill, yet none was left in doubt"
    assert posts_per_channel(calls) == posted, (
        "every message must be posted exactly once: "
        f"Slack got {dict(posts_per_channel(calls))}, the product recorded {dict(posted)}; "
        f"in doubt at the kill {dict(in_doubt)}; duplicates {duplicate_posts(calls)}\n{logs(stack, 'worker')}"
    )
    assert posts_per_channel(after) == posted - committed_at_kill - in_doubt, (
        "after the restart only the messages that had not reached Slack are posted"
    )
    assert duplicate_posts(calls) == []
    recovered = len(fake_slack.calls_to("conversations.history"))
    assert recovered >= sum(in_doubt.values()), "each post in doubt is looked for before it is recorded"
    channels_created = Counter(
        c.params.get("name") for c in calls if c.method == "conversations.create"
    )
    say(
        f"kill: {sum(posted.values())} posts, each once; {sum(in_doubt.values())} in doubt at the kill, "
        f"found in the channel history; channels created twice: {[n for n, k in channels_created.items() if k > 1]}"
    )


# --- 2. Redis down while tasks are completed --------------------------------------------------


@contextmanager
def stack_on_private_redis(live_database_url, fake_slack, tmp_path, label: str):
    """A seeded stack (web, beat, worker) whose broker and cache are a private
    redis-server, once the demo data's messages are out: ``(redis, stack, db, api)``."""
    private = PrivateRedis(tmp_path / "redis")
    private.start()
    stack = LiveStack(
        database_url=live_database_url, redis_url=private.url, workdir=tmp_path / "stack",
        slack_api_url=fake_slack.api_url, extra_env={"SLACK_SIGNING_SECRET": "reliability-signing-secret"},
    )
    db = LiveDb(live_database_url)
    try:
        say(f"{label}: seeding")
        seed_demo_stack(stack, key_name="faults")
        say(f"{label}: seeded")
        stack.start_web()
        stack.start_beat()
        fake_slack.users[ALICE_SLACK_ID] = "alice@example.com"
        stack.start_worker()
        api = Api(stack, stack.api_key)
        wait_for(stack, lambda: all_sent(db), timeout=60, what="the demo data's messages to go out")
        say(f"{label}: demo messages delivered")
        yield private, stack, db, api
    finally:
        stack.stop_all()
        private.kill()


def complete_each(api: Api, db: LiveDb, stack: LiveStack, tasks: list[dict], *, redis_state: str,
                  timeout: float) -> list[float]:
    """Complete each task through the API; each must answer 200 and be committed. Returns the durations."""
    durations = []
    for task in tasks:
        started = time.monotonic()
        try:
            response = api.call("POST", f"learning_tasks/{task['id']}/actions/complete", timeout=timeout)
        except requests.Timeout:
            raise AssertionError(
                f"completing a task with Redis {redis_state} hung (no answer in {timeout:.0f} s)\n{logs(stack, 'web')}"
            ) from None
        durations.append(time.monotonic() - started)
        assert response.status_code == 200, (
            f"completing a task with Redis {redis_state} answered {response.status_code}: {response.text[:1000]}\n"
            + logs(stack, "web")
        )
        state = db.value("SELECT state FROM learning_learningtask WHERE public_id = %s", (task["id"],))
        assert state == "completed", f"the 200 for task {task['id']} was not committed: {state}"
    return durations


def test_faults_redis_down_while_tasks_are_completed(live_database_url, fake_slack, tmp_path):
    """A private redis-server (broker and cache) is killed while every Documenting
    task of N incidents is completed through the API, then restarted empty.

    Proves: every request answers 2xx and its change is committed in Postgres
    (the API's rate-limit counter and the after-commit Celery jobs fail open);
    once Redis is back the beat jobs re-queue what was lost: every incident
    advanced exactly once and every message posted exactly once.
    """
    incidents_n = 3 if SHORT else 5
    with stack_on_private_redis(live_database_url, fake_slack, tmp_path, "redis") as (private, stack, db, api):
        baseline = db.last_outbox_id()
        incidents = [api.declare(f"Redis gone {n}") for n in range(incidents_n)]
        for incident in incidents:
            api.close_into_flow(incident["id"])
        tasks = [task for incident in incidents for task in api.outstanding_tasks(incident["id"])]
        wait_for(stack, lambda: all_sent(db), timeout=60, what="the first messages to go out")
        say("redis: first messages delivered")
        calls_before = len(fake_slack.calls)

        private.kill()
        down_at = time.monotonic()
        durations = complete_each(api, db, stack, tasks, redis_state="down", timeout=60)
        outage = max(5.0 if SHORT else 20.0, time.monotonic() - down_at)
        time.sleep(max(0.0, down_at + outage - time.monotonic()))
        say(
            f"redis: {len(tasks)} completions with Redis down, all 200, "
            f"{min(durations):.2f}-{max(durations):.2f}s each; Redis down for {time.monotonic() - down_at:.1f}s"
        )
        assert sum(db.advances(incidents).values()) == 0, "nothing can advance while Redis is down (the jobs are lost)"

        private.start()
        up_at = time.monotonic()

        def recovered():
            advances = db.advances(incidents)
            return (
                len(advances) == incidents_n and all(advances.values())
                and all_sent(db)
            )

        wait_for(
            stack, recovered, timeout=200, what="advances and deliveries after Redis is back",
            extra=lambda: f"advances {db.advances(incidents)}, outbox {dict(db.outbox_states())}, not sent {db.problems()}",
        )
        say(f"redis: everything advanced and delivered {time.monotonic() - up_at:.1f}s after Redis came back")
        # The web processes publish jobs again (not only the beat): a new incident is announced at once.
        fresh = api.declare("After Redis is back", lead=None)
        wait_for(stack, lambda: all_sent(db), timeout=20, what=f"{fresh['reference']}'s announcement, without the beat")
        time.sleep(2)
        assert db.advances(incidents) == {i["reference"]: 1 for i in incidents}, db.advances(incidents)
        reconcile_exactly_once(db, list(fake_slack.calls), stack, after=baseline)
        assert len(fake_slack.calls) > calls_before


def test_faults_redis_frozen_while_tasks_are_completed(live_database_url, fake_slack, tmp_path):
    """A private redis-server (broker and cache) is frozen with SIGSTOP while
    the Documenting tasks of an incident are completed through the API, then
    resumed.

    Proves: with Redis accepting connections but never answering, every
    request still answers 200 and is committed (each Redis call has a
    deadline: the rate-limit counter fails open, the after-commit job is
    given up); once Redis answers again the same worker and beat carry on:
    the incident advances exactly once and every message is posted once.
    """
    with stack_on_private_redis(live_database_url, fake_slack, tmp_path, "redis frozen") as (private, stack, db, api):
        baseline = db.last_outbox_id()
        incident = api.declare("Redis frozen")
        api.close_into_flow(incident["id"])
        tasks = api.outstanding_tasks(incident["id"])
        wait_for(stack, lambda: all_sent(db), timeout=60, what="the first messages to go out")
        calls_before = len(fake_slack.calls)

        private.freeze()
        frozen_at = time.monotonic()
        # Far longer than any Redis deadline: without deadlines the request waits for Redis forever.
        durations = complete_each(api, db, stack, tasks, redis_state="frozen", timeout=90)
        say(f"redis frozen: {len(tasks)} completions all 200, {min(durations):.1f}-{max(durations):.1f}s each")
        assert db.advances([incident]) == {incident["reference"]: 0}, "nothing advances while Redis is frozen"
        # A declare queues several jobs (its Slack messages): after the first failed publish the
        # process stops trying for a while (incidentio/config/celery.py), so the request waits for one, not each.
        started = time.monotonic()
        declared = api.call("POST", "incidents", {"name": "Declared while Redis is frozen",
                                                  "incident_lead_id": "alice@example.com",
                                                  "idempotency_key": f"faults-{uuid.uuid4().hex}"}, timeout=90)
        assert declared.status_code == 201, f"{declared.status_code}: {declared.text[:1000]}\n{logs(stack, 'web')}"
        say(f"redis frozen: a declare answered 201 in {time.monotonic() - started:.1f}s")

        private.thaw()
        thawed_at = time.monotonic()
        say(f"redis frozen for {thawed_at - frozen_at:.1f}s, now thawed")
        wait_for(
            stack, lambda: db.advances([incident]) == {incident["reference"]: 1} and all_sent(db), timeout=200,
            what="the advance and its messages after Redis answers again",
            extra=lambda: f"advances {db.advances([incident])}, outbox {dict(db.outbox_states())}",
        )
        say(f"redis frozen: advanced and delivered {time.monotonic() - thawed_at:.1f}s after the thaw")
        fresh = api.declare("After the thaw", lead=None)
        wait_for(stack, lambda: all_sent(db), timeout=30, what=f"{fresh['reference']}'s announcement")
        time.sleep(2)
        assert db.advances([incident]) == {incident["reference"]: 1}
        reconcile_exactly_once(db, list(fake_slack.calls), stack, after=baseline)
        assert len(fake_slack.calls) > calls_before


# --- 3. Postgres restarted under load ---------------------------------------------------------


def test_faults_postgres_restart_under_load(live_redis_url, fake_slack, tmp_path):
    """A private Postgres cluster restarted (fast shutdown) under a stream of
    declares, reads and task completions through the API.

    Proves: requests during the outage fail cleanly (a 5xx in the API's JSON error
    shape whose request_id is the X-Request-Id header; never a dropped connection
    or an HTML page); nothing is half-written (every incident has its declared
    event and its Slack announcement queued; every completed task its event;
    retrying a failed declare with its idempotency key creates it once); and the
    same gunicorn and worker processes serve and deliver again afterwards.
    """
    load_seconds = 12 if SHORT else 30
    restarts = 1 if SHORT else 2
    threads_n = 4
    pg = PrivatePostgres()
    stack = None
    try:
        pg.start()
        database_url = pg.create_database("incidentio_faults")
        stack = LiveStack(
            database_url=database_url, redis_url=live_redis_url, workdir=tmp_path / "stack",
            slack_api_url=fake_slack.api_url, web_threads=2,
            # One key at full speed from four threads is over the 1,200/min default.
            extra_env={"SLACK_SIGNING_SECRET": "reliability-signing-secret", "API_RATE_LIMIT": "100000/min"},
        )
        db = LiveDb(database_url)
        seed_demo_stack(stack, key_name="faults")
        stack.start_web()
        stack.start_worker()
        stack.start_beat()
        pids = {name: process.pid for name, process in stack.processes.items()}
        api = Api(stack, stack.api_key)
        # Incidents whose tasks the load completes.
        for n in range(threads_n * 2):
            api.close_into_flow(api.declare(f"Before the restart {n}")["id"])
        tasks = [t for t in api.ok("GET", "learning_tasks?state=outstanding&page_size=250")["learning_tasks"]]
        task_lock = threading.Lock()
        attempted: set[str] = set()

        results: list[dict] = []
        declares: dict[str, int] = {}  # idempotency key → last status
        stop = threading.Event()

        def record(kind, key, started, response=None, error=None):
            entry = {"kind": kind, "key": key, "at": started, "took": time.monotonic() - started}
            if response is not None:
                entry.update(status=response.status_code, headers=dict(response.headers), text=response.text[:500])
            else:
                entry.update(status=None, error=repr(error))
            results.append(entry)

        def client(n: int):
            session = requests.Session()
            i = 0
            while not stop.is_set():
                i += 1
                key = f"load-{n}-{i}"
                for kind, method, path, body in (
                    ("declare", "POST", "incidents", {"name": f"Under load {n}.{i}", "idempotency_key": key}),
                    ("list", "GET", "incidents?page_size=10", None),
                    ("complete", "POST", None, None),
                ):
                    if kind == "complete":
                        with task_lock:
                            task = tasks.pop() if tasks else None
                        if task is None:
                            continue
                        path = f"learning_tasks/{task['id']}/actions/complete"
                        attempted.add(task["id"])
                    started = time.monotonic()
                    try:
                        response = api.call(method, path, body, timeout=30, session=session)
                    except requests.RequestException as exc:
                        record(kind, key, started, error=exc)
                        continue
                    record(kind, key, started, response)
                    if kind == "declare":
                        declares[key] = response.status_code
                    if kind == "complete" and response.status_code >= 500:
                        with task_lock:
                            tasks.insert(0, task)  # try it again later

        workers = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(threads_n)]
        started_at = time.monotonic()
        for thread in workers:
            thread.start()
        outages = []
        for r in range(restarts):
            time.sleep(load_seconds / (restarts + 1))
            began = time.monotonic()
            pg.restart()
            outages.append((began, time.monotonic()))
            say(f"postgres: restart {r + 1} took {outages[-1][1] - began:.2f}s")
        time.sleep(max(0.0, started_at + load_seconds - time.monotonic()))
        stop.set()
        for thread in workers:
            thread.join(timeout=60)
        last_outage_end = outages[-1][1]

        # Requests failed cleanly.
        dropped = [r for r in results if r["status"] is None]
        assert not dropped, f"requests got no HTTP answer: {dropped[:5]}\n{logs(stack, 'web')}"
        failed = [r for r in results if r["status"] >= 400]
        say(
            f"postgres: {len(results)} requests in {load_seconds}s, {len(failed)} failed "
            f"({Counter((r['kind'], r['status']) for r in failed)}), around {restarts} restart(s)"
        )
        assert failed, "no request ran into the restart: the test proved nothing"
        for r in failed:
            assert r["status"] >= 500, f"a {r['status']} during the outage is not a clean 5xx: {r}"
            try:
                body = json.loads(r["text"])
            except ValueError:
                raise AssertionError(f"a 5xx that is not the API's JSON error: {r}") from None
            assert body.get("type") == "server_error" and body.get("status") == r["status"], r
            assert body.get("request_id") and body["request_id"] == r["headers"].get("X-Request-Id"), r
            near = any(b - 1 <= r["at"] + r["took"] and r["at"] <= e + 10 for b, e in outages)
            assert near, f"a request failed far from any restart: {r}\n{logs(stack, 'web')}"
        late = [r for r in results if r["at"] > last_outage_end + 10 and r["status"] >= 400]
        assert not late, f"requests still failing 10 s after the restart: {late[:5]}\n{logs(stack, 'web')}"
        assert any(r["at"] > last_outage_end + 1 and r["status"] < 300 for r in results), (
            "no request succeeded after the restart"
        )

        # Retrying a failed declare with its key creates it once, with the same processes.
        retried = [key for key, status in declares.items() if status >= 500]
        for key in retried:
            response = api.call("POST", "incidents", {"name": f"Retried {key}", "idempotency_key": key})
            assert response.status_code in (200, 201), response.text
        assert {name: p.pid for name, p in stack.processes.items()} == pids
        assert all(p.poll() is None for p in stack.processes.values()), logs(stack)

        # No partial writes.
        keys = db.rows("SELECT idempotency_key, count(*) FROM incidentio_incident "
                       "WHERE idempotency_key LIKE 'load-%%' GROUP BY idempotency_key")
        assert {k for k, _ in keys} == set(declares), "every declare that was answered or retried exists, no other"
        assert all(n == 1 for _, n in keys), f"an idempotency key created two incidents: {keys}"
        # A declare is the incident, its declared event and its queued Slack announcement: all or nothing.
        half = db.rows(
            """SELECT i.number,
                      (SELECT count(*) FROM incidentio_timelineevent e WHERE e.incident_id = i.id AND e.kind = 'declared'),
                      (SELECT count(*) FROM slackbot_outboxmessage o WHERE o.incident_id = i.id
                         AND o.kind = 'incident.declared')
               FROM incidentio_incident i WHERE i.idempotency_key LIKE 'load-%%'"""
        )
        partial = [row for row in half if row[1:] != (1, 1)]
        assert not partial, f"incidents without exactly one declared event and announcement: {partial}"
        # A completion is the task's state and its timeline event, both or neither.
        halves = db.rows(
            """SELECT t.public_id, t.state, (SELECT count(*) FROM incidentio_timelineevent e
                   WHERE e.incident_id = t.incident_id AND e.kind = 'task_completed'
                   AND e.data->>'task_id' = t.public_id::text)
               FROM learning_learningtask t WHERE t.public_id::text = ANY(%s)""",
            (sorted(attempted),),
        )
        assert len(halves) == len(attempted) and attempted, (len(halves), len(attempted))
        partial = [row for row in halves if (row[1] == "completed") != (row[2] == 1)]
        assert not partial, f"task completions half-written (task, state, events): {partial}"

        # The worker (never restarted) delivers what is declared now.
        fresh = api.declare("After the restart")
        number = int(fresh["reference"].split("-")[1])
        wait_for(
            stack,
            lambda: db.value(
                "SELECT count(*) FROM slackbot_outboxmessage o JOIN incidentio_incident i ON i.id = o.incident_id "
                "WHERE i.number = %s AND o.kind = 'incident.declared' AND o.state = 'sent'", (number,),
            ) == 1,
            timeout=30, what="the worker to deliver again after the restart",
        )
        if not SHORT:
            # Deliveries that failed on the dead connection are re-queued by the beat.
            wait_for(stack, lambda: all_sent(db), timeout=120, what="every message delivered after the restart",
                     extra=lambda: f"outbox {dict(db.outbox_states())}, not sent {db.problems()}")
        say(f"postgres: recovered; outbox {dict(db.outbox_states())}")
    finally:
        if stack is not None:
            stack.stop_all()
        pg.destroy()


# --- 4. Slack answers 500 for a minute ---------------------------------------------------------


def test_faults_slack_500_for_a_minute(live_stack, fake_slack):
    """Every Slack Web API call answers HTTP 500 for 60 s (15 s short) while status
    changes keep queueing messages for three incident channels.

    Proves: afterwards every message is delivered — none failed for good, none
    twice — and in each channel in the order the outbox rows were written.
    Prints how long after Slack's recovery the last message went out (the
    transport's backoff is 2, 4, 8… s).
    """
    stack, db = live_stack, LiveDb(live_stack.database_url)
    outage_seconds = 15 if SHORT else 60
    stack.start_web()
    stack.start_worker(concurrency=4)
    stack.start_beat()
    api = Api(stack, stack.api_key)
    live = api.live_statuses()
    assert len(live) >= 2, live
    incidents = [api.declare(f"Slack down {n}", lead=None) for n in range(3)]
    wait_for(stack, lambda: all_sent(db), timeout=60, what="the announcements to go out")
    baseline = db.last_outbox_id()

    with slack_outage(fake_slack) as window:
        began = time.monotonic()
        step = 0
        while time.monotonic() - began < outage_seconds - 2.5:
            step += 1
            for incident in incidents:
                status = live[step % len(live)]
                api.ok("POST", f"incidents/{incident['id']}/actions/edit", {"status_id": status["id"]})
            time.sleep(2.5)
        time.sleep(max(0.0, began + outage_seconds - time.monotonic()))
    recovered_at = time.monotonic()
    queued = db.outbox_states()
    say(f"slack: {outage_seconds}s of HTTP 500, {window['end'] - window['first']} failed calls; outbox {dict(queued)}")
    assert queued["pending"] > 0

    wait_for(
        stack, lambda: all_sent(db), timeout=outage_seconds * 5 + 60, what="every message delivered after Slack recovered",
        extra=lambda: f"outbox {dict(db.outbox_states())}, not sent {db.problems()}",
    )
    caught_up = time.monotonic() - recovered_at
    attempts = db.rows("SELECT max(attempts), max(sent_at) - min(sent_at) FROM slackbot_outboxmessage")
    say(f"slack: all delivered {caught_up:.1f}s after Slack recovered (max attempts {attempts[0][0]})")
    time.sleep(2)

    calls = list(fake_slack.calls)
    succeeded = calls[: window["first"]] + calls[window["end"]:]
    assert set(db.outbox_states()) == {"sent"}, db.problems()
    reconcile_exactly_once(db, succeeded, stack, after=baseline)

    # In order per channel: the posts Slack accepted, in the order it accepted them,
    # are the outbox rows of that channel in the order they were written.
    # (Everything queued since the baseline was queued during the outage.)
    expected = defaultdict(list)
    for channel, text in db.rows(
        """SELECT i.slack_channel_id, o.text FROM slackbot_outboxmessage o JOIN incidentio_incident i ON i.id = o.incident_id
           WHERE o.id > %s AND o.destination = 'incident_channel' AND o.kind <> ALL(%s) ORDER BY o.id""",
        (baseline, list(EDIT_KINDS)),
    ):
        expected[channel].append(text)
    assert len(expected) == len(incidents), f"status lines for every incident's channel: {dict(expected)}"
    actual = defaultdict(list)
    for call in calls[window["end"]:]:
        if call.method == "chat.postMessage" and call.params.get("channel") in expected:
            actual[call.params.get("channel")].append(call.params.get("text"))
    for channel, texts in expected.items():
        if actual[channel] != texts:
            raise AssertionError(
                f"channel {channel}: posts arrived out of order.\nWritten:  {[t[:60] for t in texts]}\n"
                f"Arrived: {[t[:60] for t in actual[channel]]}\n" + logs(stack, "worker")
            )
    by_ts = db.rows(
        "SELECT channel_id, outbox_id FROM slackbot_slackmessage WHERE outbox_id > %s ORDER BY channel_id, ts",
        (baseline,),
    )
    per_channel = defaultdict(list)
    for channel, outbox_id in by_ts:
        per_channel[channel].append(outbox_id)
    assert all(ids == sorted(ids) for ids in per_channel.values()), dict(per_channel)
