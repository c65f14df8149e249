"""Shared fixtures: the standard cast and signing in through the real sign-in page.

The cast: ``acme`` with ``owner``, ``admin``, ``responder`` and ``viewer``; and
``outsider``, who owns ``globex`` and is not in ``acme``.

With ``INCIDENTIO_REQUIRE_SERVICES=1`` (CI), a skipped test fails the run:
a test that needs Postgres, Redis or the browser may not quietly not run.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.test import Client

from orgs.models import Role
from tests.factories import PASSWORD, MembershipFactory, OrganizationFactory, UserFactory
from tests.redis_databases import private_redis_url

REQUIRE_SERVICES = os.environ.get("INCIDENTIO_REQUIRE_SERVICES") == "1"

@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if REQUIRE_SERVICES and report.skipped:
        report.outcome = "failed"
        report.longrepr = (
            "skipped, and skips are not allowed in CI (INCIDENTIO_REQUIRE_SERVICES=1): "
            f"{report.longrepr}"
        )
    return report


@pytest.fixture
def eager_celery(settings):
    """Celery jobs run in-process, on commit, even when REDIS_URL is set (CI):
    a module asks for this when its point is not the worker (that has its own
    tests with a real one, tests/learning/test_celery_worker.py)."""
    from incidentio.config.celery import app

    # Read first: Celery snapshots the Django settings the first time its conf
    # is read, and must not snapshot this test's override as the value to restore.
    previous = app.conf.task_always_eager
    settings.CELERY_TASK_ALWAYS_EAGER = True
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def private_redis():
    """The URL of this xdist worker's own Redis database (tests/redis_databases.py),
    empty when the test starts and emptied after it."""
    import redis
    from django.conf import settings

    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL (CI has one)")
    url = private_redis_url(settings.REDIS_URL)
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture(autouse=True)
def _isolated_cache_and_fast_hashing(settings):
    # Each test gets its own cache namespace, so rate-limit counters from one
    # test never leak into the next, nor into a test running at the same time
    # in another xdist worker (the real Redis is shared by the run).
    caches = {name: dict(conf) for name, conf in settings.CACHES.items()}
    for conf in caches.values():
        conf["KEY_PREFIX"] = f"test-{uuid.uuid4().hex}"
    settings.CACHES = caches
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def acme(db):
    return OrganizationFactory(slug="acme", name="Acme Inc.")


@pytest.fixture
def globex(db):
    return OrganizationFactory(slug="globex", name="Globex Corporation")


def _member(org, role, email):
    return MembershipFactory(org=org, role=role, user=UserFactory(email=email)).user


@pytest.fixture
def owner(acme):
    return _member(acme, Role.OWNER, "owner@acme.test")


@pytest.fixture
def admin(acme):
    return _member(acme, Role.ADMIN, "admin@acme.test")


@pytest.fixture
def responder(acme):
    return _member(acme, Role.RESPONDER, "responder@acme.test")


@pytest.fixture
def viewer(acme):
    return _member(acme, Role.VIEWER, "viewer@acme.test")


@pytest.fixture
def outsider(globex):
    return _member(globex, Role.OWNER, "outsider@globex.test")


def sign_in(client: Client, user, org_slug: str | None, password: str = PASSWORD):
    """Sign in through allauth's real sign-in page, for ``org_slug`` when given."""
    data = {"login": user.email, "password": password}
    if org_slug:
        data["next"] = f"/{org_slug}/"
    response = client.post("/accounts/login/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return response


@pytest.fixture
def signed_in():
    """``signed_in(user, org)`` → a fresh Client holding a session for that org."""

    def make(user, org, client: Client | None = None) -> Client:
        client = client or Client()
        sign_in(client, user, org.slug)
        return client

    return make
