"""``make run``'s embedded mode: SQLite, no Redis. The suite runs on Postgres,
so this walks the demo data's main pages on SQLite in a subprocess: the hot
reads written in Postgres SQL must fall back (incidentio/db.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

WALK = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("seed_demo", verbosity=0)
from django.test import Client
from incidentio.models import Incident
from orgs.models import ApiKeyRole, Organization
from orgs.services import api_key_create

browser = Client()
assert browser.post("/accounts/login/", {"login": "alice@example.com", "password": "incidentio-demo"}).status_code == 302
incident = Incident.objects.filter(org__slug="acme").order_by("-number").first()
for path in ("/acme/", "/acme/incidents/", "/acme/incidents/?category=live", f"/acme/incidents/{incident.public_id}/",
             "/acme/tasks/"):
    response = browser.get(path)
    assert response.status_code == 200, (path, response.status_code)
_, token = api_key_create(org=Organization.objects.get(slug="acme"), name="walk", roles=[ApiKeyRole.VIEWER],
                           created_by=None)
api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
first = api.get("/api/v2/incidents?page_size=2").json()
assert len(first["incidents"]) == 2 and first["incidents"][0]["reference"] == incident.reference, first
assert first["pagination_meta"]["total_record_count"] == Incident.objects.filter(org__slug="acme").count()
after = first["pagination_meta"]["after"]
second = api.get(f"/api/v2/incidents?page_size=2&after={after}").json()
assert second["incidents"][0]["reference"] != first["incidents"][0]["reference"], second
assert api.get("/api/v2/incidents?status_category[one_of]=live,closed").status_code == 200
print("walked")
"""


def test_the_demo_runs_on_sqlite_without_redis(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(DJANGO_SETTINGS_MODULE="incidentio.settings", DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
               DEBUG="1", ALLOWED_HOSTS="testserver")
    result = subprocess.run([sys.executable, "-c", WALK], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and "walked" in result.stdout, result.stderr[-3000:]
