"""Load (issue 8): 50 concurrent users for 2 minutes (30 s with RELIABILITY_SHORT=1)
against the production topology: gunicorn (3 workers x 4 threads, DEBUG=0), one
Celery worker and beat on Redis, Postgres, the fake Slack.

The users, as threads in this process, each on their own connection:

- **dashboard** readers signed in through allauth's real page (CSRF and all),
  reading the org home, the incident list, incident pages and "my tasks", and
  now and then posting an update through the incident page's form;
- **API writers**, one API key each, declaring incidents (some twice at once
  with the same idempotency key), editing summaries, creating follow-ups and
  post-mortems, and closing incidents into the learning flow (or opting out);
- **task workers**, one API key each, completing or skipping random
  outstanding tasks of the incidents in the flow (so the last two tasks of a
  status are often addressed at the same moment by two of them);
- **Slack** responders sending signed ``/inc`` commands to ``/slack/events``
  (``status``, ``update``, ``tasks``, ``done``, ``skip``, ``help``).

The stack runs as behind the documented TLS proxy (``TRUSTED_PROXY_COUNT=1``)
and each user sends its own address in ``X-Forwarded-For``: fifty people, not
one address, so the per-address sign-in limits count each dashboard reader.

Every request is recorded (status, latency, request id). The run fails on any
5xx, connection error or unexpected status (a 429 included: every key stays far
below ``API_RATE_LIMIT``, keys being counted separately), on any lost write
(every acknowledged write is reconciled against Postgres, counts exactly), and
unless, once the worker has caught up, every incident whose current learning
status has all its tasks addressed has moved on, each exactly once.

A summary (requests by kind, p50/p95/p99) is printed, and written as JSON to
``$RELIABILITY_REPORT_DIR/load.json`` when that is set.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import itertools
import json
import os
import random
import re
import statistics
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import psycopg2
import pytest
import requests

from incidentio.incidents.models import FollowUp, Incident, IncidentStatus, Postmortem, TimelineEvent
from learning.models import LearningTask, TaskTemplate
from orgs.management.commands.seed_demo import DEMO_PASSWORD
from orgs.models import ApiKeyRole, Organization
from slackbot.models import OutboxMessage
from tests.live_stack import StackError, wait_until
from tests.reliability.conftest import SHORT, TEAM_ID

pytestmark = pytest.mark.reliability

DURATION = float(os.environ.get("RELIABILITY_LOAD_SECONDS") or (30 if SHORT else 120))
SIGNING_SECRET = "reliability-signing-secret"  # the live_stack fixture's SLACK_SIGNING_SECRET
#: 50 users: who does what.
MIX = {"dashboard": 12, "api_writer": 14, "task_worker": 12, "slack": 12}
THINK = (0.05, 0.3)  # seconds between one user's requests
FOCUS = 6  # task workers mostly share the oldest incidents in the flow
TIMEOUT = 60  # gunicorn's --timeout
ADVANCE_TIMEOUT = 180  # seconds the worker gets to catch up after the load
SLACK_ACK_BUDGET = 3.0  # Slack gives up on a slash command after 3 s
LOGIN_FORM_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# What a page says went wrong: its flash messages and field errors.
PAGE_ERRORS = re.compile(r'class="(?:flash flash-error|error)"[^>]*>([^<]+)<')
DONE_REPLY = re.compile(r"^“(?P<title>.+)” is (?P<what>done|marked not doing)\.$")

SETUP_SCRIPT = """
import json
from allauth.account.models import EmailAddress
from orgs.models import Membership, Organization, Role, User
from orgs.services import api_key_create
org = Organization.objects.get(slug="acme")
out = {"users": [], "keys": []}
for i in range(%(users)d):
    email = f"load{i:02d}@example.com"
    user = User.objects.create_user(email=email, password=%(password)r, name=f"Load User {i:02d}")
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    Membership.objects.create(org=org, user=user, role=Role.RESPONDER)
    out["users"].append(email)
for i in range(%(keys)d):
    _key, token = api_key_create(org=org, name=f"load-{i:02d}", roles=%(roles)r, created_by=None)
    out["keys"].append(token)
print("LOAD-SETUP " + json.dumps(out))
"""


# --- recording -----------------------------------------------------------------------------


@dataclass
class Record:
    kind: str
    op: str
    method: str
    path: str
    status: int  # 0: no HTTP answer (connection error, timeout)
    latency: float
    request_id: str
    unexpected: bool
    error: str = ""


class Recorder:
    def __init__(self):
        self.records: list[Record] = []
        self._lock = threading.Lock()

    def add(self, record: Record) -> None:
        with self._lock:
            self.records.append(record)


#: Each simulated user's own address, as the proxy would forward it, is the
#: next of 198.18.0.0/15 (set aside for benchmarks). ``next()`` on a count is
#: atomic, and twins are made in the users' threads.
FIRST_USER_ADDRESS = ipaddress.ip_address("198.18.0.1")
USER_NUMBERS = itertools.count()


class Client:
    """One simulated user's HTTP connection. Cookies are kept by hand: with
    DEBUG=0 they are Secure, and a cookie jar would not send them over http."""

    def __init__(self, base: str, name: str, recorder: Recorder):
        self.base = base
        self.name = name
        self.recorder = recorder
        self.http = requests.Session()
        self.http.trust_env = False
        self.http.headers["X-Forwarded-For"] = str(FIRST_USER_ADDRESS + next(USER_NUMBERS))
        self.cookies: dict[str, str] = {}
        self.last: Record | None = None  # this user's latest request
        self._seq = itertools.count(1)

    def flag(self, error: str) -> None:
        """The latest answer had the expected status but the wrong content."""
        self.last.unexpected = True
        self.last.error = error

    def call(self, kind: str, op: str, method: str, path: str, *, expect=(200,), headers=None, **kwargs):
        request_id = f"load-{self.name}-{next(self._seq)}"
        headers = {"X-Request-Id": request_id, **(headers or {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        try:
            response = self.http.request(method, self.base + path, headers=headers, timeout=TIMEOUT,
                                         allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            self.last = Record(kind, op, method, path, 0, time.perf_counter() - started, request_id, True,
                               f"{type(exc).__name__}: {exc}")
            self.recorder.add(self.last)
            return None
        latency = time.perf_counter() - started
        self.http.cookies.clear()
        for header in response.raw.headers.getlist("Set-Cookie"):
            jar = SimpleCookie()
            jar.load(header)
            for morsel in jar.values():
                if morsel["max-age"] == "0" or "1970" in morsel["expires"] or not morsel.value:
                    self.cookies.pop(morsel.key, None)
                else:
                    self.cookies[morsel.key] = morsel.value
        unexpected = response.status_code not in expect
        self.last = Record(kind, op, method, path, response.status_code, latency,
                           response.headers.get("X-Request-Id", request_id), unexpected,
                           what_went_wrong(response) if unexpected else "")
        self.recorder.add(self.last)
        return response


def what_went_wrong(response: requests.Response) -> str:
    """An unexpected answer, for the report: a page's own error messages if it
    shows any (a refused sign-in is a 200 page saying why), else its start."""
    said = PAGE_ERRORS.findall(response.text)
    return " | ".join(" ".join(text.split()) for text in said) if said else response.text[:300]


# --- what the users share and what they were told -----------------------------------------


@dataclass
class Ledger:
    """Every acknowledged write, to reconcile against the database afterwards."""

    declared: dict = field(default_factory=dict)  # idempotency key -> incident public id
    replays: list = field(default_factory=list)  # (key, id the replay answered)
    summaries: list = field(default_factory=list)  # (incident id, text)
    updates: list = field(default_factory=list)  # (incident id, text, via)
    closes: list = field(default_factory=list)  # (incident id, mode, reason)
    follow_ups: dict = field(default_factory=dict)  # (incident id, key) -> follow-up id
    postmortems: set = field(default_factory=set)  # incident ids
    task_actions: list = field(default_factory=list)  # (task id, action, via)
    slack_task_actions: list = field(default_factory=list)  # (incident reference, task title, action)


class World:
    def __init__(self):
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.ledger = Ledger()
        self.incidents: dict[str, str] = {}  # public id -> reference
        self.running: list[str] = []

    def note(self, fn) -> None:
        with self.lock:
            fn(self.ledger)

    def add_incident(self, incident: dict) -> None:
        with self.lock:
            self.incidents[incident["id"]] = incident["reference"]

    def add_running(self, incident_id: str) -> None:
        with self.lock:
            if incident_id not in self.running:
                self.running.append(incident_id)

    def retire(self, incident_id: str) -> None:
        with self.lock:
            if incident_id in self.running:
                self.running.remove(incident_id)

    def pick(self, rng: random.Random, *, running: bool = False, focus: float = 0.0):
        """A random incident (of those in the flow, if ``running``); with probability
        ``focus`` one of the oldest few, so that several users work on the same
        incident at once and flows get finished."""
        with self.lock:
            pool = self.running if running else list(self.incidents)
            if not pool:
                return None
            incident_id = rng.choice(pool[:FOCUS] if rng.random() < focus else pool)
            return incident_id, self.incidents[incident_id]


def think(world: World, rng: random.Random) -> None:
    world.stop.wait(rng.uniform(*THINK))


# --- the users -------------------------------------------------------------------------------


def dashboard_user(world: World, client: Client, rng: random.Random, email: str) -> None:
    page = client.call("dashboard", "sign_in_page", "GET", "/accounts/login/?next=/acme/")
    token = LOGIN_FORM_TOKEN.search(page.text) if page is not None else None
    if token is None:
        return
    signed = client.call("dashboard", "sign_in", "POST", "/accounts/login/", expect=(302,), data={
        "login": email, "password": DEMO_PASSWORD, "next": "/acme/", "csrfmiddlewaretoken": token[1]},
        headers={"Referer": client.base + "/accounts/login/"})
    if signed is None or signed.status_code != 302:
        return
    n = 0
    while not world.stop.is_set():
        n += 1
        roll = rng.random()
        picked = world.pick(rng)
        if roll < 0.2 or picked is None:
            client.call("dashboard", "org_home", "GET", "/acme/")
        elif roll < 0.4:
            client.call("dashboard", "incident_list", "GET", "/acme/incidents/")
        elif roll < 0.55:
            client.call("dashboard", "my_tasks", "GET", "/acme/tasks/")
        elif roll < 0.9:
            incident_id, reference = picked
            response = client.call("dashboard", "incident_page", "GET", f"/acme/incidents/{incident_id}/")
            if response is not None and response.status_code == 200 and reference not in response.text:
                client.flag(f"{reference} missing from its page")
        else:
            incident_id, _reference = picked
            text = f"Dashboard update {client.name}-{n} {rng.getrandbits(32):08x}"
            response = client.call("dashboard", "post_update", "POST", f"/acme/incidents/{incident_id}/updates/",
                                   expect=(302,), data={"message": text, "csrfmiddlewaretoken": client.cookies.get("csrftoken", "")},
                                   headers={"Referer": client.base + f"/acme/incidents/{incident_id}/"})
            if response is not None and response.status_code == 302:
                if f"/acme/incidents/{incident_id}/" in response.headers.get("Location", ""):
                    world.note(lambda ledger: ledger.updates.append((incident_id, text, "dashboard")))
                else:
                    client.flag("redirected to " + response.headers.get("Location", ""))
        think(world, rng)


def api_writer(world: World, client: Client, rng: random.Random, leads: list[str], critical_id: str) -> None:
    auth = client.http.headers
    n = 0
    while not world.stop.is_set():
        n += 1
        key = f"load-{client.name}-{n}"
        critical = rng.random() < 0.2
        body = {"name": f"Load {client.name} #{n}", "summary": f"Load test incident {key}.", "idempotency_key": key,
                "incident_lead_id": rng.choice(leads)}
        if critical:
            body["severity_id"] = critical_id
        if rng.random() < 0.1:
            # The same create twice at the same moment: one incident, the same answer twice.
            twin = Client(client.base, client.name + "-twin", client.recorder)
            twin.http.headers.update(auth)
            answers = {}
            thread = threading.Thread(target=lambda: answers.setdefault("twin", twin.call(
                "api_write", "declare_twin", "POST", "/api/v2/incidents", expect=(200, 201), json=body)))
            thread.start()
            response = client.call("api_write", "declare", "POST", "/api/v2/incidents", expect=(200, 201), json=body)
            thread.join()
            twin_answer = answers.get("twin")
            if twin_answer is not None and twin_answer.status_code in (200, 201):
                world.note(lambda ledger, a=twin_answer: ledger.replays.append((key, a.json()["incident"]["id"])))
            if response is not None and response.status_code in (200, 201):
                world.note(lambda ledger, r=response: ledger.replays.append((key, r.json()["incident"]["id"])))
            if response is None or response.status_code not in (200, 201):
                response = twin_answer
        else:
            response = client.call("api_write", "declare", "POST", "/api/v2/incidents", expect=(201,), json=body)
        if response is None or response.status_code not in (200, 201):
            think(world, rng)
            continue
        incident = response.json()["incident"]
        incident_id = incident["id"]
        world.note(lambda ledger: ledger.declared.setdefault(key, incident_id))
        world.add_incident(incident)
        if rng.random() < 0.2:  # a retry of a create that had in fact worked
            again = client.call("api_write", "declare_retry", "POST", "/api/v2/incidents", json=body)
            if again is not None and again.status_code == 200:
                world.note(lambda ledger, a=again: ledger.replays.append((key, a.json()["incident"]["id"])))
        think(world, rng)

        client.call("api_read", "incident", "GET", f"/api/v2/incidents/{incident_id}")
        text = f"Load summary {key} {rng.getrandbits(32):08x}"
        edited = client.call("api_write", "edit_summary", "POST", f"/api/v2/incidents/{incident_id}/actions/edit",
                             json={"summary": text})
        if edited is not None and edited.status_code == 200:
            world.note(lambda ledger: ledger.summaries.append((incident_id, text)))
        if rng.random() < 0.4:
            follow_key = f"{key}-fu"
            for attempt in range(2 if rng.random() < 0.3 else 1):
                created = client.call("api_write", "follow_up", "POST", f"/api/v2/incidents/{incident_id}/follow_ups",
                                      expect=(201,) if attempt == 0 else (200,),
                                      json={"title": f"Follow up on {key}", "idempotency_key": follow_key})
                if created is not None and created.status_code in (200, 201):
                    follow_up_id = created.json()["follow_up"]["id"]
                    world.note(lambda ledger, f=follow_up_id: ledger.follow_ups.setdefault((incident_id, follow_key), f))
        think(world, rng)

        roll = rng.random()
        if roll < 0.15:
            mode, close_body = "opt_out", {"learning_flow": "opt_out", "opt_out_reason": f"Load opt-out {key}"}
        elif critical and roll < 0.6:
            mode, close_body = "required", {}  # Critical: the lifecycle rules run the flow
        else:
            mode, close_body = "run", {"learning_flow": "run"}
        closed = client.call("api_write", "close", "POST", f"/api/v2/incidents/{incident_id}/actions/close",
                             json=close_body)
        if closed is not None and closed.status_code == 200:
            world.note(lambda ledger: ledger.closes.append((incident_id, mode, close_body.get("opt_out_reason", ""))))
            if mode != "opt_out":
                world.add_running(incident_id)
                if rng.random() < 0.4:
                    made = client.call("api_write", "postmortem", "POST", f"/api/v2/incidents/{incident_id}/postmortem",
                                       expect=(201,), json={})
                    if made is not None and made.status_code == 201:
                        world.note(lambda ledger: ledger.postmortems.add(incident_id))
        think(world, rng)

        roll = rng.random()
        if roll < 0.5:
            client.call("api_read", "incident_list", "GET", "/api/v2/incidents?page_size=25")
        elif roll < 0.8:
            client.call("api_read", "timeline", "GET", f"/api/v2/incidents/{incident_id}/timeline?page_size=50")
        else:
            client.call("api_read", "incident_list_learning", "GET",
                        "/api/v2/incidents?learning_flow[one_of]=running&page_size=25")
        think(world, rng)


def task_worker(world: World, client: Client, rng: random.Random) -> None:
    while not world.stop.is_set():
        picked = world.pick(rng, running=True, focus=0.7)
        if picked is None:
            client.call("api_read", "learning_tasks", "GET", "/api/v2/learning_tasks?state=outstanding&page_size=25")
            think(world, rng)
            continue
        incident_id, _reference = picked
        listed = client.call("task", "list_outstanding", "GET",
                             f"/api/v2/learning_tasks?incident_id={incident_id}&state=outstanding&page_size=50")
        if listed is None or listed.status_code != 200:
            think(world, rng)
            continue
        tasks = listed.json()["learning_tasks"]
        if not tasks:
            shown = client.call("api_read", "incident", "GET", f"/api/v2/incidents/{incident_id}")
            if shown is not None and shown.status_code == 200 and shown.json()["incident"]["learning_flow"] != "running":
                world.retire(incident_id)
            think(world, rng)
            continue
        task = rng.choice(tasks)
        if rng.random() < 0.8:
            action, body = "complete", None
        else:
            action, body = "not_doing", {"reason": f"Skipped under load by {client.name}"}
        # 422: the incident left that status between the list and the action.
        done = client.call("task", action, "POST", f"/api/v2/learning_tasks/{task['id']}/actions/{action}",
                           expect=(200, 422), json=body)
        if done is not None and done.status_code == 200:
            world.note(lambda ledger: ledger.task_actions.append((task["id"], action, "api")))
        elif done is not None and done.status_code == 422 and "has already left" not in done.text:
            client.flag(done.text[:200])
        think(world, rng)


def sign_slack(body: str) -> dict:
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": f"v0={digest}",
            "Content-Type": "application/x-www-form-urlencoded"}


def slack_command(client: Client, op: str, text: str, slack_user: str, response_url: str) -> tuple[object, str]:
    body = urlencode({
        "token": "legacy", "team_id": TEAM_ID, "team_domain": "acme", "channel_id": "CGENERAL",
        "channel_name": "general", "user_id": slack_user, "user_name": slack_user.lower(), "command": "/inc",
        "text": text, "api_app_id": "A0001", "response_url": response_url,
        "trigger_id": f"trigger.{slack_user}.{time.time_ns()}",
    })
    response = client.call("slack", op, "POST", "/slack/events", data=body.encode(), headers=sign_slack(body))
    if response is None or response.status_code != 200:
        return response, ""
    reply = json.loads(response.text).get("text", "") if response.text else ""
    if "I can't tell which" in reply or "doesn't allow" in reply:  # the member behind the Slack user was lost
        client.flag(reply[:200])
    return response, reply


def slack_user(world: World, client: Client, rng: random.Random, slack_id: str, response_url: str) -> None:
    n = 0
    while not world.stop.is_set():
        n += 1
        roll = rng.random()
        picked = world.pick(rng, running=roll >= 0.55 and roll < 0.9)
        if picked is None or roll >= 0.95:
            slack_command(client, "help", "help", slack_id, response_url)
        elif roll < 0.25:
            slack_command(client, "status", f"status {picked[1]}", slack_id, response_url)
        elif roll < 0.55:
            incident_id, reference = picked
            text = f"Slack update {client.name}-{n} {rng.getrandbits(32):08x}"
            _response, reply = slack_command(client, "update", f"update {reference} {text}", slack_id, response_url)
            if reply == f"Update posted to {reference}.":
                world.note(lambda ledger: ledger.updates.append((incident_id, text, "slack")))
        elif roll < 0.65:
            slack_command(client, "tasks", f"tasks {picked[1]}", slack_id, response_url)
        elif roll < 0.9:
            _incident_id, reference = picked
            k = rng.randint(1, 4)
            if rng.random() < 0.8:
                _response, reply = slack_command(client, "done", f"done {reference} {k}", slack_id, response_url)
            else:
                _response, reply = slack_command(client, "skip", f"skip {reference} {k} not needed", slack_id,
                                                 response_url)
            match = DONE_REPLY.match(reply)
            if match:
                action = "complete" if match["what"] == "done" else "not_doing"
                world.note(lambda ledger, m=match, a=action: ledger.slack_task_actions.append((reference, m["title"], a)))
        else:
            slack_command(client, "help", "help", slack_id, response_url)
        think(world, rng)


# --- the run ---------------------------------------------------------------------------------


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(q / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def summarize(records: list[Record], duration: float) -> dict:
    by_kind: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_kind[record.kind].append(record)
        by_kind["all"].append(record)
    kinds = {}
    for kind, rows in sorted(by_kind.items()):
        latencies = sorted(r.latency for r in rows)
        kinds[kind] = {
            "requests": len(rows),
            "per_second": round(len(rows) / duration, 1),
            "p50_ms": round(_percentile(latencies, 50) * 1000),
            "p95_ms": round(_percentile(latencies, 95) * 1000),
            "p99_ms": round(_percentile(latencies, 99) * 1000),
            "max_ms": round(latencies[-1] * 1000),
            "mean_ms": round(statistics.fmean(latencies) * 1000),
            "statuses": dict(sorted(Counter(str(r.status) for r in rows).items())),
        }
    by_op: dict[str, list[float]] = defaultdict(list)
    for record in records:
        by_op[f"{record.kind}.{record.op}"].append(record.latency)
    ops = {}
    for op, latencies in sorted(by_op.items()):
        latencies.sort()
        ops[op] = {"requests": len(latencies), "p50_ms": round(_percentile(latencies, 50) * 1000),
                   "p95_ms": round(_percentile(latencies, 95) * 1000)}
    return {"kinds": kinds, "ops": ops}


def print_summary(report: dict) -> None:
    lines = [f"\nLoad: {report['users']} users for {report['duration_s']} s "
             f"({'short' if report['short'] else 'full'} run), {report['kinds']['all']['requests']} requests"]
    lines.append(f"  {'kind':<10} {'requests':>8} {'req/s':>6} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>6}  statuses")
    for kind, row in report["kinds"].items():
        lines.append(f"  {kind:<10} {row['requests']:>8} {row['per_second']:>6} {row['p50_ms']:>5}ms {row['p95_ms']:>5}ms "
                     f"{row['p99_ms']:>5}ms {row['max_ms']:>5}ms  {row['statuses']}")
    slowest = sorted(report["ops"].items(), key=lambda item: -item[1]["p95_ms"])[:6]
    lines.append("  slowest p95: " + ", ".join(f"{op} {row['p95_ms']}ms (n={row['requests']})" for op, row in slowest))
    lines.append(f"  writes acknowledged: {report['writes']}")
    lines.append(f"  learning flow: {report['flow']}")
    lines.append(f"  slack acks over {SLACK_ACK_BUDGET:.0f} s: {report['slack_acks_over_budget']}; "
                 f"outbox: {report['outbox']}; advances repaired by beat: {report['repaired_by_beat']}")
    lines.append(f"  errors: {len(report['errors'])}" + "".join(f"\n    {e}" for e in report["errors"][:30]))
    print("\n".join(lines))


def test_fifty_users_for_two_minutes_lose_nothing_and_every_finished_incident_advances(live_stack, fake_slack,
                                                                                   capsys):
    live_stack.web_workers, live_stack.web_threads = 3, 4
    users = sum(MIX.values())
    keys_needed = MIX["api_writer"] + MIX["task_worker"]
    emails_needed = MIX["dashboard"] + MIX["slack"]
    output = live_stack.manage("shell", "-c", SETUP_SCRIPT % {
        "users": emails_needed, "keys": keys_needed, "password": DEMO_PASSWORD, "roles": list(ApiKeyRole.values)})
    setup = json.loads(next(line for line in output.splitlines() if line.startswith("LOAD-SETUP "))[11:])
    emails, keys = setup["users"], setup["keys"]
    dashboard_emails, slack_emails = emails[:MIX["dashboard"]], emails[MIX["dashboard"]:]
    slack_ids = [f"ULOAD{i:02d}" for i in range(MIX["slack"])]
    for slack_id, email in zip(slack_ids, slack_emails, strict=True):
        fake_slack.users[slack_id] = email

    live_stack.extra_env["TRUSTED_PROXY_COUNT"] = "1"
    live_stack.start_web()
    live_stack.start_worker()
    live_stack.start_beat()
    base = live_stack.url("")
    recorder = Recorder()
    world = World()

    admin = requests.Session()
    admin.headers["Authorization"] = f"Bearer {live_stack.api_key}"
    severities = admin.get(base + "/api/v2/severities", timeout=30).json()["severities"]
    critical_id = next(s["id"] for s in severities if s["name"] == "Critical")

    # Each Slack user is linked the real way, by its Slack e-mail (users.info), before the clock starts.
    for slack_id in slack_ids:
        warm = Client(base, f"warm-{slack_id}", Recorder())
        _response, reply = slack_command(warm, "warm", "tasks", slack_id, fake_slack.response_url(slack_id))
        assert reply.startswith("Run this in an incident"), f"{slack_id} was not linked: {reply!r}"

    threads = []
    rng_seed = int(os.environ.get("RELIABILITY_LOAD_SEED") or time.time())
    seeds = random.Random(rng_seed)

    def spawn(target, name, *args, key=None):
        client = Client(base, name, recorder)
        if key:
            client.http.headers["Authorization"] = f"Bearer {key}"
        rng = random.Random(seeds.getrandbits(64))
        threads.append(threading.Thread(target=target, args=(world, client, rng, *args), name=name, daemon=True))

    key_iter = iter(keys)
    for i, email in enumerate(dashboard_emails):
        spawn(dashboard_user, f"dash{i:02d}", email)
    leads = ["alice@example.com", "carol@example.com", *slack_emails[:4]]
    for i in range(MIX["api_writer"]):
        spawn(api_writer, f"writer{i:02d}", leads, critical_id, key=next(key_iter))
    for i in range(MIX["task_worker"]):
        spawn(task_worker, f"tasks{i:02d}", key=next(key_iter))
    for i, slack_id in enumerate(slack_ids):
        spawn(slack_user, f"slack{i:02d}", slack_id, fake_slack.response_url(f"load{i}"))

    started = time.monotonic()
    for thread in threads:
        thread.start()
    world.stop.wait(DURATION)
    world.stop.set()
    for thread in threads:
        thread.join(timeout=TIMEOUT + 10)
    elapsed = time.monotonic() - started
    assert not [t.name for t in threads if t.is_alive()], "some users never finished their last request"

    failures: list[str] = []
    records = list(recorder.records)
    errors = [r for r in records if r.unexpected]
    server_errors = [r for r in records if r.status >= 500 or r.status == 0]
    for r in errors:
        failures.append(f"{r.kind}.{r.op} {r.method} {r.path} -> {r.status or r.error} "
                        f"(request id {r.request_id}) {r.error[:160]!r}")

    # --- wait for the worker: every finished status moves on ---------------------------------
    connection = psycopg2.connect(live_stack.database_url)
    connection.autocommit = True
    tables = {m.__name__: m._meta.db_table for m in (Organization, Incident, IncidentStatus, TimelineEvent,
                                                       LearningTask, TaskTemplate, Postmortem, FollowUp, OutboxMessage)}

    def query(sql: str, params=()) -> list[tuple]:
        with connection.cursor() as cursor:
            cursor.execute(sql.format(**tables), params)
            return cursor.fetchall()

    stuck_sql = """
        SELECT i.number FROM {Incident} i
        WHERE i.learning_flow = 'running' AND NOT EXISTS (
            SELECT 1 FROM {LearningTask} t WHERE t.incident_id = i.id AND t.status_id = i.status_id
            AND t.required AND t.state = 'outstanding')
        ORDER BY i.number"""
    waited_from = time.monotonic()
    try:
        wait_until(lambda: not query(stuck_sql), timeout=ADVANCE_TIMEOUT, interval=1,
                   what="the worker to advance every incident whose status is finished")
    except StackError:
        stuck = [f"INC-{n}" for (n,) in query(stuck_sql)]
        failures.append(f"not advanced after {ADVANCE_TIMEOUT}s: {stuck}\n{live_stack.log_tail('worker', 40)}")
    advance_wait = time.monotonic() - waited_from
    # Give the outbox a moment to drain (reported, not asserted here).
    try:
        wait_until(lambda: not query("SELECT 1 FROM {OutboxMessage} WHERE state = 'pending' LIMIT 1"),
                   timeout=60, interval=1, what="the outbox to drain")
    except StackError:
        pass

    # --- reconcile -------------------------------------------------------------------------------
    ledger = world.ledger
    org_id = query("SELECT id FROM {Organization} WHERE slug = 'acme'")[0][0]
    rows = query("""SELECT i.public_id::text, i.id, i.number, i.idempotency_key, i.learning_flow, s.category,
                           i.opt_out_reason, s.name
                    FROM {Incident} i JOIN {IncidentStatus} s ON s.id = i.status_id
                    WHERE i.org_id = %s AND i.name LIKE 'Load %%'""", (org_id,))
    incidents = {r[0]: r for r in rows}
    pk_of = {r[0]: r[1] for r in rows}

    # Declares: every acknowledged one exists, once; nothing else was declared.
    declared_ids = set(ledger.declared.values())
    if declared_ids != set(incidents):
        failures.append(f"declared {len(declared_ids)} incidents, the database has {len(incidents)}: "
                        f"missing {sorted(declared_ids - set(incidents))[:10]}, extra {sorted(set(incidents) - declared_ids)[:10]}")
    for key, incident_id in ledger.declared.items():
        row = incidents.get(incident_id)
        if row is not None and row[3] != key:
            failures.append(f"{incident_id} carries idempotency key {row[3]!r}, declared with {key!r}")
    for key, incident_id in ledger.replays:
        if ledger.declared.get(key) != incident_id:
            failures.append(f"idempotency key {key} answered {incident_id}, first declared {ledger.declared.get(key)}")
    declared_events = dict(query("SELECT incident_id, count(*) FROM {TimelineEvent} WHERE kind = 'declared' "
                                 "AND incident_id = ANY(%s) GROUP BY incident_id", (list(pk_of.values()),)))
    doubled = [i for i, pk in pk_of.items() if declared_events.get(pk) != 1]
    if doubled:
        failures.append(f"incidents without exactly one 'declared' event: {doubled[:10]}")

    # Summaries and updates: each acknowledged text is on its incident's timeline exactly once.
    events = defaultdict(Counter)
    for incident_pk, kind, text in query("SELECT incident_id, kind, text FROM {TimelineEvent} "
                                         "WHERE kind IN ('summary_updated', 'update_posted') AND incident_id = ANY(%s)",
                                         (list(pk_of.values()),)):
        events[incident_pk][(kind, text)] += 1
    for incident_id, text in ledger.summaries:
        if events[pk_of.get(incident_id)][("summary_updated", text)] != 1:
            failures.append(f"summary edit of {incident_id} not on its timeline exactly once: {text!r}")
    for incident_id, text, via in ledger.updates:
        if events[pk_of.get(incident_id)][("update_posted", text)] != 1:
            failures.append(f"update posted via {via} to {incident_id} not on its timeline exactly once: {text!r}")
    posted = sum(c for per in events.values() for (kind, _t), c in per.items() if kind == "update_posted")
    if posted != len(ledger.updates):
        failures.append(f"{len(ledger.updates)} updates acknowledged, {posted} on the timelines")

    # Closes.
    closed_modes = {}
    for incident_id, mode, reason in ledger.closes:
        closed_modes[incident_id] = mode
        row = incidents.get(incident_id)
        if row is None:
            continue
        if mode == "opt_out" and (row[4] != "opted_out" or row[5] != "closed" or row[6] != reason):
            failures.append(f"opted-out {incident_id} is {row[4]}/{row[5]} with reason {row[6]!r}")
        if mode != "opt_out" and row[4] not in ("running", "completed"):
            failures.append(f"{incident_id} closed into the flow ({mode}) is {row[4]}")
    never_closed = [i for i, row in incidents.items() if i not in closed_modes and row[5] != "live"]
    if never_closed:
        failures.append(f"incidents left live (close not acknowledged) are not live: {never_closed[:10]}")

    # Follow-ups and post-mortems.
    follow_rows = query("SELECT incident_id, idempotency_key, public_id::text FROM {FollowUp} "
                        "WHERE incident_id = ANY(%s)", (list(pk_of.values()),))
    follow_db = {(r[0], r[1]): r[2] for r in follow_rows}
    for (incident_id, key), follow_up_id in ledger.follow_ups.items():
        if follow_db.get((pk_of.get(incident_id), key)) != follow_up_id:
            failures.append(f"follow-up {key} of {incident_id} ({follow_up_id}) is not in the database")
    if len(follow_rows) != len(ledger.follow_ups):
        failures.append(f"{len(ledger.follow_ups)} follow-ups acknowledged, {len(follow_rows)} in the database")
    postmortem_incidents = {r[0] for r in query("SELECT incident_id FROM {Postmortem} WHERE incident_id = ANY(%s)",
                                                (list(pk_of.values()),))}
    missing_pm = [i for i in ledger.postmortems if pk_of.get(i) not in postmortem_incidents]
    if missing_pm or len(postmortem_incidents) != len(ledger.postmortems):
        failures.append(f"{len(ledger.postmortems)} post-mortems acknowledged, {len(postmortem_incidents)} "
                        f"in the database; missing {missing_pm[:10]}")

    # Tasks: every acknowledged completion / not-doing left the task addressed, and the
    # timeline agrees with every task's state.
    task_rows = query("""SELECT t.public_id::text, t.incident_id, t.status_id, t.title, t.state, t.required,
                                t.completed_automatically, t.not_doing_reason, i.number
                         FROM {LearningTask} t JOIN {Incident} i ON i.id = t.incident_id
                         WHERE t.incident_id = ANY(%s)""", (list(pk_of.values()),))
    tasks = {r[0]: r for r in task_rows}
    by_title = defaultdict(list)
    for r in task_rows:
        by_title[(f"INC-{r[8]}", r[3])].append(r)
    for task_id, action, via in ledger.task_actions:
        row = tasks.get(task_id)
        if row is None or row[4] == "outstanding":
            failures.append(f"task {task_id} was {action} ({via}, 2xx) but is {row[4] if row else 'missing'}")
    for reference, title, action in ledger.slack_task_actions:
        found = by_title.get((reference, title), [])
        if not found or any(r[4] == "outstanding" for r in found):
            failures.append(f"task “{title}” of {reference} was {action} from Slack but is "
                            f"{[r[4] for r in found] or 'missing'}")
    task_events = defaultdict(Counter)
    for kind, task_id in query("SELECT kind, data->>'task_id' FROM {TimelineEvent} WHERE incident_id = ANY(%s) "
                               "AND kind IN ('task_completed', 'task_not_doing')", (list(pk_of.values()),)):
        task_events[task_id][kind] += 1
    for task_id, row in tasks.items():
        state = row[4]
        if state == "completed" and not row[6] and not task_events[task_id]["task_completed"]:
            failures.append(f"task {task_id} is completed without a 'task_completed' event")
        if state == "not_doing" and not task_events[task_id]["task_not_doing"] and row[5]:
            failures.append(f"required task {task_id} is not doing without a 'task_not_doing' event")
        if state == "outstanding" and task_events[task_id]:
            failures.append(f"task {task_id} is outstanding but its timeline says {dict(task_events[task_id])}")

    # The learning flow: every finished status moved on, exactly once.
    acme_statuses = query("SELECT id, name, rank FROM {IncidentStatus} WHERE org_id = %s AND category = 'learning' "
                          "ORDER BY rank, id", (org_id,))
    learning_ids = [s[0] for s in acme_statuses]
    templates = dict(query("SELECT status_id, count(*) FROM {TaskTemplate} WHERE org_id = %s GROUP BY status_id",
                           (org_id,)))
    per_status = defaultdict(lambda: defaultdict(list))
    for r in task_rows:
        per_status[r[1]][r[2]].append(r)
    flow_events = defaultdict(Counter)
    for incident_pk, kind, source in query(
            "SELECT incident_id, kind, data->>'from' FROM {TimelineEvent} WHERE incident_id = ANY(%s) AND kind IN "
            "('learning_flow_entered', 'learning_status_changed', 'learning_flow_completed')", (list(pk_of.values()),)):
        flow_events[incident_pk][(kind, source)] += 1
    status_name = {s[0]: s[1] for s in acme_statuses}
    flow_counts = Counter()
    for incident_id, row in incidents.items():
        pk, flow, status = row[1], row[4], row[7]
        flow_counts[flow] += 1
        statuses_with_tasks = [s for s in learning_ids if per_status[pk].get(s)]
        counts = flow_events[pk]
        for (kind, source), count in counts.items():
            if count != 1:
                failures.append(f"{incident_id}: {count} × {kind} (from {source})")
        for status_id, rows_ in per_status[pk].items():
            if len(rows_) != templates.get(status_id, 0):
                failures.append(f"{incident_id}: {len(rows_)} tasks for {status_name.get(status_id)}, "
                                f"{templates.get(status_id)} templates")
        if flow == "not_entered" or flow == "opted_out":
            if flow == "not_entered" and (statuses_with_tasks or counts):
                failures.append(f"{incident_id} never entered the flow but has tasks or flow events")
            continue
        entered = sum(c for (kind, _s), c in counts.items() if kind == "learning_flow_entered")
        moved = sum(c for (kind, _s), c in counts.items() if kind == "learning_status_changed")
        completed = sum(c for (kind, _s), c in counts.items() if kind == "learning_flow_completed")
        if entered != 1:
            failures.append(f"{incident_id} ({flow}) entered the flow {entered} times")
        if flow == "running":
            current = learning_ids.index(next(s[0] for s in acme_statuses if s[1] == status))
            expect_moves, expect_completed = current, 0
            if statuses_with_tasks != learning_ids[: current + 1]:
                failures.append(f"{incident_id} is in {status} with tasks for {statuses_with_tasks}")
        else:  # completed
            expect_moves, expect_completed = len(learning_ids) - 1, 1
            if statuses_with_tasks != learning_ids or any(
                    t[4] == "outstanding" for rows_ in per_status[pk].values() for t in rows_):
                failures.append(f"{incident_id} completed the flow with tasks left or missing")
            if row[5] != "closed":
                failures.append(f"{incident_id} completed the flow but is {row[5]}")
        flow_counts["advances"] += moved + completed
        if (moved, completed) != (expect_moves, expect_completed):
            failures.append(f"{incident_id} ({flow}, {status}) moved {moved}× and completed {completed}×, "
                            f"expected {expect_moves}/{expect_completed}")

    outbox = dict(query("SELECT state, count(*) FROM {OutboxMessage} GROUP BY state"))
    dup_posts = query("SELECT dedupe_key FROM {OutboxMessage} WHERE kind = 'learning.tasks_posted' "
                      "GROUP BY dedupe_key HAVING count(*) > 1")
    if dup_posts:
        failures.append(f"task messages queued twice: {dup_posts[:5]}")
    connection.close()

    worker_log = (live_stack.workdir / "worker.log").read_text(errors="replace")
    repaired = sum(int(m) for m in re.findall(r"Repaired (\d+) incident", worker_log))
    slack_slow = sum(1 for r in records if r.kind == "slack" and r.latency > SLACK_ACK_BUDGET)

    report = {
        "users": users, "mix": MIX, "duration_s": round(elapsed, 1), "short": SHORT, "seed": rng_seed,
        **summarize(records, elapsed),
        "writes": {
            "declared": len(ledger.declared), "idempotent_replays": len(ledger.replays),
            "summaries": len(ledger.summaries), "updates": len(ledger.updates),
            "closes": dict(Counter(m for _i, m, _r in ledger.closes)), "follow_ups": len(ledger.follow_ups),
            "postmortems": len(ledger.postmortems),
            "task_actions_api": len(ledger.task_actions), "task_actions_slack": len(ledger.slack_task_actions),
        },
        "flow": dict(flow_counts),
        "advance_wait_s": round(advance_wait, 1),
        "repaired_by_beat": repaired,
        "slack_acks_over_budget": slack_slow,
        "outbox": outbox,
        "server_errors": [{"request_id": r.request_id, "op": f"{r.kind}.{r.op}", "path": r.path,
                           "status": r.status, "error": r.error} for r in server_errors],
        "errors": failures,
        "passed": not failures,
    }
    with capsys.disabled():  # shown by `make reliability` even when the test passes
        print_summary(report)
    report_dir = os.environ.get("RELIABILITY_REPORT_DIR")
    if report_dir:
        Path(report_dir).mkdir(parents=True, exist_ok=True)
        (Path(report_dir) / "load.json").write_text(json.dumps(report, indent=2))

    detail = ""
    if server_errors:
        detail = "\n" + live_stack.log_tail("web", 80)
    assert not failures, f"{len(failures)} problem(s) under load:\n" + "\n".join(failures[:50]) + detail
