"""Real processes for the fault-injection and load runs (issue 8, docs/reliability.md).

Every module here sets ``pytestmark = pytest.mark.reliability``: ``make test``
deselects that marker (pyproject ``addopts``) and ``make reliability`` runs
only it; ``RELIABILITY_SHORT=1`` (CI) shortens their
durations. Each test gets a fresh Postgres database of its own, migrated and
seeded with the demo data, a private Redis database, the fake Slack Web API in
this process, and a :class:`~tests.live_stack.LiveStack` whose processes it
starts, kills and restarts itself.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings as django_settings

from orgs.models import ApiKeyRole
from tests.live_stack import LiveStack
from tests.slack.fake_slack import FakeSlack

SHORT = os.environ.get("RELIABILITY_SHORT", "") not in ("", "0")
#: Redis database for the stack's broker and cache: not 0 (a developer's own),
#: and clear of the test suite's per-worker databases (REDIS_URL's number + 1,
#: + 2, …: tests/redis_databases.py) with the usual REDIS_URL of database 0.
REDIS_DB = int(os.environ.get("RELIABILITY_REDIS_DB", "8"))
TEAM_ID = "T0001"
BOT_TOKEN = "xoxb-reliability"


def _postgres_server_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.fail("the reliability runs need DATABASE_URL pointing at Postgres")
    return url


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


@pytest.fixture
def live_database_url():
    """A fresh database on the configured Postgres server, dropped afterwards."""
    import psycopg2

    server = _postgres_server_url()
    name = f"incidentio_live_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(_with_path(server, "/postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_path(server, f"/{name}")
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture
def live_redis_url():
    base = django_settings.REDIS_URL or os.environ.get("REDIS_URL")
    if not base:
        pytest.fail("the reliability runs need REDIS_URL")
    url = _with_path(base, f"/{REDIS_DB}")
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def fake_slack():
    server = FakeSlack().start()
    yield server
    server.stop()


def seed_demo_stack(stack: LiveStack, *, key_name: str = "reliability") -> None:
    """Migrate and seed the stack's database: the demo data, acme connected to
    the fake Slack, and ``stack.api_key``, an acme key with every role."""
    stack.manage("migrate", "--noinput", "--verbosity", "0")
    stack.manage("seed_demo")
    stack.manage("slack_connect", "--org", "acme", "--team-id", TEAM_ID, "--bot-token", BOT_TOKEN)
    stack.api_key = stack.manage(
        "create_api_key", "--org", "acme", "--name", key_name, *[f"--role={role}" for role in ApiKeyRole.values]
    ).strip().splitlines()[-1]


@pytest.fixture
def live_stack(live_database_url, live_redis_url, fake_slack, tmp_path):
    """Migrated and seeded (demo data, acme connected to the fake Slack); nothing started yet.

    ``live_stack.api_key`` is a key for acme with every role.
    """
    stack = LiveStack(
        database_url=live_database_url, redis_url=live_redis_url,
        workdir=tmp_path / "stack", slack_api_url=fake_slack.api_url,
        extra_env={"SLACK_SIGNING_SECRET": "reliability-signing-secret"},
    )
    seed_demo_stack(stack)
    try:
        yield stack
    finally:
        stack.stop_all()
