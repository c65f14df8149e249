"""The learning flow through a real Celery worker on Redis (docs/learning-flow.md, docs/architecture.md).

In production the advance is not run by the request that addressed the last
task: the commit queues ``advance_incident`` on Redis and a worker process
advances the incident, and the outbox messages are delivered by the worker
too. This test starts ``celery worker`` as a separate process against the test
database and the xdist worker's private Redis database (tests/redis_databases.py),
and drives the flow from the test process, which is *not* eager: every job goes
through Redis.

Needs Postgres (the worker is another process; it must see the test's
commits) and REDIS_URL. CI sets both, and a skip fails the run there.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection

from incidentio.common.actors import Actor
from incidentio.incidents.models import (
    EventKind,
    Incident,
    IncidentStatus,
    LearningFlowState,
    Severity,
    TimelineEvent,
)
from incidentio.incidents.services.incidents import incident_declare
from learning.models import LearningTask, TaskState
from learning.services.flow import incident_close
from learning.services.tasks import task_complete
from slackbot.models import OutboxMessage, OutboxState
from slackbot.tasks import deliver_outbox_message
from tests.live_stack import StackError, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT_ROOT = Path(django_settings.BASE_DIR)
WORKER_READY_TIMEOUT = 60
FLOW_TIMEOUT = 20


@pytest.fixture(autouse=True)
def _needs_postgres_and_redis():
    if not django_settings.REDIS_URL:
        pytest.skip("a real Celery worker needs REDIS_URL")


def _use_private_broker(app, url: str) -> None:
    """Point ``app`` at ``url``, a Redis database where no Celery worker may answer:
    one would take this test's jobs."""
    _use_broker(app, url)
    if app.control.ping(timeout=0.5):
        pytest.fail(f"a Celery worker already listens on {url} (left over from an interrupted run?): stop it")


def _test_database_url() -> str:
    """The test database (not the configured one) as a DATABASE_URL for the worker."""
    db = connection.settings_dict
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    at = "@" if credentials else ""
    return f"postgres://{credentials}{at}{host}{port}/{quote(db['NAME'], safe='')}"


def _use_broker(app, url: str) -> None:
    """Point this process's Celery app at ``url``, dropping what is pooled for the old one
    (the app reads the broker URL from settings once, and caches its pools)."""
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None
    app.control.mailbox.__dict__.pop("producer_pool", None)


def _log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no worker log)"


def _wait_for(condition, timeout: float, what: str, log: Path):
    try:
        return wait_until(condition, timeout=timeout, what=what, interval=0.2,
                          on_timeout=lambda: f"--- worker log ---\n{_log_tail(log)}")
    except StackError as exc:
        pytest.fail(str(exc))


class WorkerLauncher:
    """Points this process's Celery app at the private Redis database ``broker_url``
    at once; ``start()`` launches the ``celery worker`` process when the test wants
    it (jobs published before then wait in Redis)."""

    def __init__(self, app, log: Path, broker_url: str):
        self.app = app
        self.log = log
        self.process = None
        self.broker_url = broker_url
        _use_private_broker(app, broker_url)

    def start(self) -> dict:
        hostname = f"learning-test-{uuid.uuid4().hex[:12]}@{socket.gethostname()}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "incidentio.config.settings",
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": self.broker_url,
            "CELERY_BROKER_URL": self.broker_url,
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            sys.executable, "-m", "celery", "-A", "incidentio", "worker",
            "--pool=solo", "--concurrency=1", "-Q", "celery", "--loglevel=info",
            "-n", hostname, "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output,
                                            stderr=subprocess.STDOUT)

        def ready():
            if self.process.poll() is not None:
                pytest.fail(f"the worker exited with {self.process.returncode}\n--- worker log ---\n"
                            f"{_log_tail(self.log)}")
            return self.app.control.ping(destination=[hostname], timeout=0.5)

        _wait_for(ready, WORKER_READY_TIMEOUT, "the worker to answer ping", self.log)
        return {"process": self.process, "log": self.log, "hostname": hostname}

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=15)


@pytest.fixture
def worker_launcher(transactional_db, private_redis, tmp_path):
    """A ``WorkerLauncher`` against the test database and this xdist worker's
    private Redis database, which is empty when the test starts.

    Depends on ``transactional_db`` and ``private_redis`` so the worker is stopped
    before the database is flushed and the Redis database emptied.
    """
    from incidentio.config.celery import app

    assert app.conf.task_always_eager is False, "with REDIS_URL set, jobs must go to Redis"
    previous_broker = app.conf.broker_url
    launcher = None
    try:
        launcher = WorkerLauncher(app, tmp_path / "worker.log", private_redis)
        yield launcher
    finally:
        if launcher is not None:
            launcher.stop()
        _use_broker(app, previous_broker)


@pytest.fixture
def celery_worker(worker_launcher):
    """A ``celery worker`` process on the private Redis database, against the test database."""
    return worker_launcher.start()


def _closed_into_the_flow(acme, owner, responder) -> Incident:
    """A minor incident led by ``responder``, closed by ``owner`` into the learning flow (Documenting)."""
    actor = Actor.for_user(owner)
    incident = incident_declare(
        org=acme, actor=actor, name="Payments are slow", severity=Severity.objects.get(org=acme, name="Minor"),
        lead=responder,
    )
    incident_close(incident=incident, actor=actor, learning_flow="run")
    return incident


def test_the_worker_advances_the_incident_and_delivers_its_messages(celery_worker, acme, owner, responder):
    log = celery_worker["log"]
    reviewing = IncidentStatus.objects.get(org=acme, name="Reviewing")
    incident = _closed_into_the_flow(acme, owner, responder)
    tasks = list(LearningTask.objects.filter(incident=incident, status__name="Documenting"))
    assert len(tasks) == 4
    for task in tasks:
        # Each commits; the last one's on-commit hook queues advance_incident on Redis.
        task_complete(task=task, actor=Actor.for_user(responder))

    def in_reviewing():
        current = Incident.objects.get(pk=incident.pk)
        return current.status_id == reviewing.pk and LearningTask.objects.filter(
            incident=incident, status=reviewing
        ).count() == 4

    _wait_for(in_reviewing, FLOW_TIMEOUT, "the worker to move the incident to Reviewing", log)

    incident = Incident.objects.get(pk=incident.pk)
    assert incident.learning_flow == LearningFlowState.RUNNING
    assert TimelineEvent.objects.filter(incident=incident, kind=EventKind.LEARNING_STATUS_CHANGED).count() == 1
    assert all(
        t.state == TaskState.OUTSTANDING and t.assignee == responder
        for t in LearningTask.objects.filter(incident=incident, status=reviewing)
    )

    def all_sent():
        messages = list(OutboxMessage.objects.filter(incident=incident))
        return messages and all(m.state == OutboxState.SENT for m in messages)

    _wait_for(all_sent, FLOW_TIMEOUT, "the worker to deliver every outbox message", log)
    posted = OutboxMessage.objects.filter(incident=incident, kind="learning.tasks_posted").order_by("pk")
    assert ["Documenting" in m.text for m in posted] == [True, False]
    assert ["Reviewing" in m.text for m in posted] == [False, True]
    assert all(m.sent_at is not None and m.attempts == 1 for m in OutboxMessage.objects.filter(incident=incident))

    # The jobs ran in the worker process, not in this one.
    worker_log = log.read_text(errors="replace")
    assert "learning.tasks.advance_incident" in worker_log
    assert "slackbot.tasks.deliver_outbox_message" in worker_log


def _received(log: Path) -> list[str]:
    """Task names in the order the worker took them from Redis."""
    return re.findall(r"Task ([\w.]+)\[[^\]]+\] received", log.read_text(errors="replace"))


def test_an_advance_goes_ahead_of_slack_deliveries_queued_before_it(worker_launcher, acme, owner, responder):
    """A burst of Slack deliveries (a big outage's closes) must not hold back the
    advance of an incident whose last task was just addressed: deliveries are
    queued at a lower priority (``incidentio.config.celery.PRIORITY_BACKGROUND``)."""
    reviewing = IncidentStatus.objects.get(org=acme, name="Reviewing")
    incident = _closed_into_the_flow(acme, owner, responder)
    for task in LearningTask.objects.filter(incident=incident, status__name="Documenting"):
        task_complete(task=task, actor=Actor.for_user(responder))
    # No worker yet: every job waits in Redis, the deliveries first. A burst
    # of deliveries queued before the advance (repeats are harmless: a message
    # is sent while pending only).
    pending = list(OutboxMessage.objects.filter(incident=incident, state=OutboxState.PENDING))
    assert pending
    for _ in range(10):
        for message in pending:
            deliver_outbox_message.delay(message.pk)
    queued_first = 11 * len(pending)

    worker = worker_launcher.start()
    _wait_for(lambda: Incident.objects.get(pk=incident.pk).status_id == reviewing.pk, FLOW_TIMEOUT,
              "the worker to move the incident to Reviewing", worker["log"])
    _wait_for(lambda: not OutboxMessage.objects.filter(incident=incident, state=OutboxState.PENDING).exists(),
              FLOW_TIMEOUT, "the worker to deliver every outbox message", worker["log"])

    received = _received(worker["log"])
    assert received[0] == "learning.tasks.advance_incident", received
    assert received.count("slackbot.tasks.deliver_outbox_message") >= queued_first


def test_slack_edits_are_queued_behind_new_posts(worker_launcher, acme, owner, responder):
    """Edits of a posted message (``learning.tasks_updated``) render the state
    current when they run, so they wait behind new posts and DMs, which carry
    news; both wait behind an advance (the priorities in ``incidentio.config.celery``)."""
    import redis

    from incidentio.config.celery import PRIORITY_BACKGROUND, PRIORITY_REFRESH
    from slackbot.models import SlackWorkspace

    broker = redis.Redis.from_url(worker_launcher.broker_url)  # empty at the start (private_redis)
    # Connected to Slack (no worker runs: nothing is sent), so task changes queue edits.
    SlackWorkspace.objects.create(org=acme, team_id="TPRIO", bot_token="xoxb-prio", bot_user_id="UBOT")
    incident = _closed_into_the_flow(acme, owner, responder)
    task = LearningTask.objects.filter(incident=incident, status__name="Documenting").first()
    task_complete(task=task, actor=Actor.for_user(responder))  # queues an edit of the posted task list

    sep = "\x06\x16"  # kombu's separator between a queue's name and its priority step

    def queued(priority: int) -> list[str]:
        key = f"celery{sep}{priority}" if priority else "celery"
        return [json.loads(job)["headers"]["argsrepr"] for job in broker.lrange(key, 0, -1)]

    kinds = dict(OutboxMessage.objects.filter(incident=incident).values_list("pk", "kind"))
    posts = [pk for pk, kind in kinds.items() if kind != "learning.tasks_updated"]
    edits = [pk for pk, kind in kinds.items() if kind == "learning.tasks_updated"]
    assert posts and edits
    assert sorted(queued(PRIORITY_BACKGROUND)) == sorted(f"[{pk}]" for pk in posts)
    assert queued(PRIORITY_REFRESH) == [f"[{pk}]" for pk in edits]
