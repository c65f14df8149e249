"""Scenario 7, the reminder sweep (bench/sweep.py), on the generator's ``tiny`` data.

As ``make bench`` runs it: the generator's CLI into a throwaway database, then
``bench.sweep`` in a ``manage.py shell`` with the stack's settings, its jobs
published to this worker's private Redis database (nothing delivers them).
Batches of 5 items put the tiny backlog in many full batches.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import psycopg2
import pytest
import redis

from bench import report
from tests.bench.test_generate import ROOT, _bench_database, _drop, _url
from tests.live_stack import BENCH_FIELD_ENCRYPTION_KEY, LiveStack

BATCH = 5


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    name, settings = _bench_database()
    name += "_sweep"
    url = _url(settings, name)
    manifest = tmp_path_factory.mktemp("bench") / "manifest.json"
    try:
        subprocess.run(
            [sys.executable, "-m", "bench.generate", "--database-url", url, "--scale", "tiny", "--seed", "3",
             "--manifest", str(manifest), "--quiet"],
            cwd=ROOT, check=True, timeout=300, capture_output=True, text=True,
            env={**os.environ, "FIELD_ENCRYPTION_KEYS": BENCH_FIELD_ENCRYPTION_KEY},
        )
        yield url
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"python -m bench.generate failed:\n{exc.stderr[-4000:]}")
    finally:
        _drop(settings, name)


def _sweep(database: str, redis_url: str, workdir) -> dict:
    stack = LiveStack(database_url=database, redis_url=redis_url, workdir=workdir)
    output = stack.manage("shell", "-c", f"from bench.sweep import main; main(3, batch_size={BATCH})", timeout=300)
    return json.loads(next(x for x in output.splitlines() if x.startswith("SWEPT ")).removeprefix("SWEPT "))


def _published_jobs(redis_url: str) -> list:
    """``(task name, args)`` of every job waiting in the broker's queues (kombu's lists, one per priority)."""
    client = redis.Redis.from_url(redis_url)
    try:
        raw = [body for key in client.keys("celery*") if client.type(key) == b"list"
               for body in client.lrange(key, 0, -1)]
    finally:
        client.close()
    messages = [json.loads(body) for body in raw]
    return [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))[0]) for m in messages]


def _outbox(database: str) -> dict:
    db = psycopg2.connect(database)
    try:
        with db.cursor() as cursor:
            cursor.execute("SELECT kind, state, count(*) FROM slackbot_outboxmessage GROUP BY kind, state")
            return {(kind, state): n for kind, state, n in cursor.fetchall()}
    finally:
        db.close()


def test_the_reminder_sweep_scenario_reports_its_numbers_and_queries_that_do_not_grow(database, private_redis,
                                                                                     tmp_path):
    sweep = _sweep(database, private_redis, tmp_path)
    first, small, steady = sweep["first"], sweep["small_org"], sweep["steady"]
    overdue = sum(kind["overdue"] for kind in sweep["backlog"].values())

    # The first sweep reminds the whole backlog, less what the small org's sweep did before it.
    assert first["reminders"] + small["first"]["reminders"] >= overdue > 0
    assert first["batches"] > 4 and first["seconds"] > 0
    # The escalations' timeline events are written together: a few queries a batch, not 3 each.
    assert first["escalations"] > first["batches"] and first["escalation_queries"] <= 3 * first["batches"]
    # Queued, not delivered: nothing consumed the jobs.
    outbox = _outbox(database)
    assert outbox[("learning.reminder", "pending")] == first["reminders"] + small["first"]["reminders"]
    # One job published per batch, which a worker fans out into a delivery job per message.
    jobs = _published_jobs(private_redis)
    assert {task for task, _args in jobs} == {"slackbot.tasks.queue_deliveries"}
    assert len(jobs) <= first["batches"] + small["first"]["batches"]
    assert sum(len(args[0]) for _task, args in jobs) == sum(outbox.values())

    # A full batch of the whole backlog costs what the small org's one batch costs.
    assert first["queries_per_full_batch_max"] == small["first"]["queries_per_batch_max"] >= 5
    # The steady state reads nothing: one empty read per kind, as for the small org.
    assert [run["items"] for run in steady["runs"]] == [0, 0, 0]
    assert [run["batches"] for run in steady["runs"]] == [2, 2, 2] and small["steady"]["batches"] == 2
    assert [run["queries"] for run in steady["runs"]] == [2, 2, 2]
    assert steady["p95_ms"] >= steady["p50_ms"] > 0

    budgets = {b.name: b for b in report._sweep_budgets(sweep)}
    assert budgets["reminder sweep: queries per batch"].held
    assert budgets["reminder sweep: steady-state batches"].held
    table = "\n".join(report._sweep_markdown(sweep))
    assert f"| first, whole backlog | {first['seconds']:.2f} | {first['items']} | {first['reminders']} |" in table
