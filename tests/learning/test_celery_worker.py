"""The learning flow through a real Celery worker on Redis (DESIGN §2, §6).

In production the advance is not run by the request that addressed the last
task: the commit queues ``advance_incident`` on Redis and a worker process
advances the incident, and the outbox messages are delivered by the worker
too. This test starts ``celery worker`` as a separate process against the test
database and a Redis database of its own, and drives the flow from the test
process, which is *not* eager: every job goes through Redis.

Needs Postgres (the worker is another process; it must see the test's
commits) and REDIS_URL. CI sets both, and a skip fails the run there.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection

from incidentio.actors import Actor
from incidentio.models import (
    EventKind,
    Incident,
    IncidentStatus,
    LearningFlowState,
    Severity,
    TimelineEvent,
)
from incidentio.services.incidents import incident_close, incident_declare
from learning.models import LearningTask, TaskState
from learning.services.tasks import task_complete
from slackbot.models import OutboxMessage, OutboxState
from tests.live_stack import StackError, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT_ROOT = Path(django_settings.BASE_DIR)
WORKER_READY_TIMEOUT = 60
FLOW_TIMEOUT = 20
#: Redis databases tried, in order, for the worker's broker: the first one no
#: other worker listens on, so no one else (a developer's worker, another test
#: run) consumes this test's jobs.
BROKER_DBS = (5, 9, 10, 11, 12, 13, 14, 15)


@pytest.fixture(autouse=True)
def _needs_postgres_and_redis():
    if not django_settings.REDIS_URL:
        pytest.skip("a real Celery worker needs REDIS_URL")
    if connection.vendor != "postgresql":
        pytest.skip("the worker process must share the test database: Postgres only")


def _with_db(redis_url: str, db: int) -> str:
    parts = urlsplit(redis_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, ""))


def _use_private_broker(app, redis_url: str) -> str:
    """Point ``app`` at a Redis database of the configured server where no worker answers a ping."""
    for db in BROKER_DBS:
        url = _with_db(redis_url, db)
        _use_broker(app, url)
        if not app.control.ping(timeout=0.5):
            return url
    pytest.fail(f"every candidate Redis database {BROKER_DBS} has a Celery worker listening")


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


@pytest.fixture
def celery_worker(transactional_db, tmp_path):
    """A ``celery worker`` process on a private Redis database, against the test database.

    Depends on ``transactional_db`` so it is stopped before the database is flushed.
    """
    from incidentio.celery import app

    assert app.conf.task_always_eager is False, "with REDIS_URL set, jobs must go to Redis"
    previous_broker = app.conf.broker_url
    process = None
    log = tmp_path / "worker.log"
    try:
        broker_url = _use_private_broker(app, django_settings.REDIS_URL)
        assert app.conf.broker_url == broker_url
        hostname = f"learning-test-{uuid.uuid4().hex[:12]}@{socket.gethostname()}"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "incidentio.settings",
            "DATABASE_URL": _test_database_url(),
            "REDIS_URL": broker_url,
            "CELERY_BROKER_URL": broker_url,
            "PYTHONUNBUFFERED": "1",
        }
        command = [
            sys.executable, "-m", "celery", "-A", "incidentio", "worker",
            "--pool=solo", "--concurrency=1", "-Q", "celery", "--loglevel=info",
            "-n", hostname, "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]
        with log.open("wb") as output:
            process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)

        def ready():
            if process.poll() is not None:
                pytest.fail(f"the worker exited with {process.returncode}\n--- worker log ---\n{_log_tail(log)}")
            return app.control.ping(destination=[hostname], timeout=0.5)

        _wait_for(ready, WORKER_READY_TIMEOUT, "the worker to answer ping", log)
        yield {"process": process, "log": log, "hostname": hostname}
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)
        _use_broker(app, previous_broker)

def test_the_worker_advances_the_incident_and_delivers_its_messages(celery_worker, acme, owner, responder):
    log = celery_worker["log"]
    actor = Actor.for_user(owner)
    reviewing = IncidentStatus.objects.get(org=acme, name="Reviewing")
    incident = incident_declare(
        org=acme, actor=actor, name="Payments are slow", severity=Severity.objects.get(org=acme, name="Minor"),
        lead=responder,
    )

    incident_close(incident=incident, actor=actor, learning_flow="run")
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
