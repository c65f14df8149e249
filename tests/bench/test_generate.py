"""The benchmark data generator (bench/generate) at its ``tiny`` scale, against Postgres.

It runs the real CLI in its own process (it sets Django up for the database it
makes) into a throwaway database named after the test database, then checks
the fixtures the benchmark relies on straight from the tables.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest
from django.db import connection
from psycopg2 import sql

ROOT = Path(__file__).resolve().parents[2]


def _bench_database() -> tuple[str, dict]:
    settings = connection.settings_dict
    name = (settings.get("TEST") or {}).get("NAME") or f"test_{settings['NAME']}"
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"{name}{'_' + worker if worker else ''}_bench", settings


def _url(settings: dict, name: str) -> str:
    user = quote(settings.get("USER") or "")
    password = quote(settings.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings.get("HOST") or "127.0.0.1"
    # A Unix socket folder (the embedded Postgres) is the host, percent-encoded, with no port.
    netloc = quote(host, safe="") if host.startswith("/") else f"{host}:{settings.get('PORT') or 5432}"
    return f"postgres://{auth}{netloc}/{name}"


def _drop(settings: dict, name: str) -> None:
    admin = psycopg2.connect(_url(settings, "postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    finally:
        admin.close()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    name, settings = _bench_database()
    url = _url(settings, name)
    manifest_path = tmp_path_factory.mktemp("bench") / "manifest.json"
    try:
        subprocess.run(
            [sys.executable, "-m", "bench.generate", "--database-url", url, "--scale", "tiny", "--seed", "3",
             "--manifest", str(manifest_path), "--quiet"],
            cwd=ROOT, check=True, timeout=300, capture_output=True, text=True,
        )
        manifest = json.loads(manifest_path.read_text())
        db = psycopg2.connect(url)
        try:
            yield manifest, db
        finally:
            db.close()
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"python -m bench.generate failed:\n{exc.stderr[-4000:]}")
    finally:
        _drop(settings, name)


def _all(db, query: str, params=()) -> list[tuple]:
    with db.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def _one(db, query: str, params=()):
    return _all(db, query, params)[0][0]


def test_every_counted_table_matches_the_manifest(generated):
    manifest, db = generated
    for table, count in manifest["counts"].items():
        assert _one(db, f"SELECT count(*) FROM {table}") == count, table
    big = manifest["org"]
    assert _one(db, "SELECT count(*) FROM incidentio_incident WHERE org_id = %s", [big["id"]]) == big["incidents"] == 60
    assert manifest["small_orgs"]["count"] == 3
    assert _one(db, "SELECT last_number FROM incidentio_incidentcounter WHERE org_id = %s", [big["id"]]) == 60


def test_flow_incidents_wait_on_exactly_one_required_task_of_the_first_learning_status(generated):
    manifest, db = generated
    org = manifest["org"]["id"]
    first = _one(db, "SELECT id FROM incidentio_incidentstatus WHERE org_id = %s AND category = 'learning' "
                     "ORDER BY rank, id LIMIT 1", [org])
    assert manifest["flow_incidents"]
    for item in manifest["flow_incidents"]:
        incident, status, flow = _all(db, "SELECT id, status_id, learning_flow FROM incidentio_incident "
                                          "WHERE public_id = %s AND org_id = %s", [item["incident_id"], org])[0]
        assert (status, flow) == (first, "running")
        open_tasks = _all(db, "SELECT public_id::text, required FROM learning_learningtask "
                              "WHERE incident_id = %s AND status_id = %s AND state = 'outstanding'", [incident, first])
        assert open_tasks == [(item["task_id"], True)]
        assert _one(db, "SELECT count(*) FROM learning_learningtask WHERE incident_id = %s AND status_id <> %s",
                    [incident, first]) == 0


def test_burst_incidents_are_live_and_severe_enough_to_enter_the_flow_when_closed(generated):
    manifest, db = generated
    org = manifest["org"]["id"]
    threshold = _one(db, "SELECT s.rank FROM learning_lifecyclerules r JOIN incidentio_severity s "
                         "ON s.id = r.auto_enter_min_severity_id WHERE r.org_id = %s", [org])
    channels = set()
    assert manifest["burst_incidents"]
    for item in manifest["burst_incidents"]:
        category, rank, channel, closed_at = _all(db, (
            "SELECT st.category, sv.rank, i.slack_channel_id, i.closed_at FROM incidentio_incident i "
            "JOIN incidentio_incidentstatus st ON st.id = i.status_id JOIN incidentio_severity sv "
            "ON sv.id = i.severity_id WHERE i.public_id = %s AND i.org_id = %s"), [item["incident_id"], org])[0]
        assert category == "live" and closed_at is None
        assert rank >= threshold
        assert channel == item["channel"] and channel
        channels.add(channel)
    assert len(channels) == len(manifest["burst_incidents"])


def test_fixtures_for_the_pages_and_the_api(generated):
    manifest, db = generated
    org = manifest["org"]["id"]
    timeline = manifest["timeline_incident"]
    assert _one(db, "SELECT count(*) FROM incidentio_timelineevent e JOIN incidentio_incident i ON i.id = e.incident_id "
                    "WHERE i.public_id = %s", [timeline["incident_id"]]) == timeline["events"] == 200
    assignee = manifest["assignee"]
    assert _one(db, "SELECT count(*) FROM learning_learningtask t JOIN orgs_membership m ON m.user_id = t.assignee_id "
                    "AND m.org_id = t.org_id WHERE m.public_id = %s", [assignee["member_id"]]) == assignee["tasks"] > 0
    token_hash = hashlib.sha256(manifest["api"]["key"].encode()).hexdigest()
    roles = _one(db, "SELECT roles FROM orgs_apikey WHERE token_hash = %s AND org_id = %s AND revoked_at IS NULL",
                 [token_hash, org])
    assert set(roles) >= {"viewer", "incident_editor"}
    assert _one(db, "SELECT team_id FROM slackbot_slackworkspace WHERE org_id = %s", [org]) == "TBENCH"


def test_the_learning_flow_state_is_what_the_services_would_leave(generated):
    _, db = generated
    # Nothing for repair_stuck_incidents to advance: every running incident waits on a required task.
    assert _one(db, "SELECT count(*) FROM incidentio_incident i WHERE learning_flow = 'running' AND NOT EXISTS ("
                    "SELECT 1 FROM learning_learningtask t WHERE t.incident_id = i.id AND t.status_id = i.status_id "
                    "AND t.required AND t.state = 'outstanding')") == 0
    # Open tasks only in the current status of a running incident.
    assert _one(db, "SELECT count(*) FROM learning_learningtask t JOIN incidentio_incident i ON i.id = t.incident_id "
                    "WHERE t.state = 'outstanding' AND (i.learning_flow <> 'running' OR t.status_id <> i.status_id)") == 0
    # The status category and the flow state agree.
    pairs = set(_all(db, "SELECT s.category, i.learning_flow FROM incidentio_incident i "
                         "JOIN incidentio_incidentstatus s ON s.id = i.status_id"))
    allowed = {("learning", "running"), ("closed", "completed"), ("closed", "opted_out"), ("closed", "not_entered"),
               ("triage", "not_entered"), ("live", "not_entered"), ("declined", "not_entered"),
               ("merged", "not_entered"), ("canceled", "not_entered")}
    assert pairs <= allowed
    assert {("learning", "running"), ("closed", "completed"), ("closed", "opted_out")} <= pairs
    # Every incident that entered the flow has its run, of its org's default flow (the only one generated).
    assert _one(db, "SELECT count(*) FROM incidentio_incident i WHERE EXISTS (SELECT 1 FROM incidentio_timelineevent e "
                    "WHERE e.incident_id = i.id AND e.kind = 'learning_flow_entered') AND NOT EXISTS (SELECT 1 FROM "
                    "learning_learningrun r JOIN learning_learningflow f ON f.id = r.flow_id WHERE r.incident_id = i.id "
                    "AND f.org_id = i.org_id AND f.is_default)") == 0
    assert _one(db, "SELECT count(*) FROM learning_learningrun") == _one(
        db, "SELECT count(*) FROM incidentio_timelineevent WHERE kind = 'learning_flow_entered'") > 0
    # Every incident in a learning status has visited it, as the flow records it.
    assert _one(db, "SELECT count(*) FROM incidentio_incident i JOIN incidentio_incidentstatus s ON s.id = i.status_id "
                    "WHERE s.category = 'learning' AND NOT EXISTS (SELECT 1 FROM learning_learningstatusvisit v "
                    "WHERE v.incident_id = i.id AND v.status_id = i.status_id)") == 0
    # ... and left every other status it visited, as the flow marks it (the Post-incident page reads the rest).
    assert _one(db, "SELECT count(*) FROM learning_learningstatusvisit v JOIN incidentio_incident i ON i.id = v.incident_id "
                    "WHERE (v.left_at IS NULL) <> (i.learning_flow = 'running' AND v.status_id = i.status_id)") == 0
    assert _one(db, "SELECT count(*) FROM learning_learningstatusvisit WHERE left_at < entered_at") == 0
