"""Settings come from the environment and fail loudly, naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from tests.conftest import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_LIKE = {
    "DEBUG": "0",
    "SECRET_KEY": "k" * 20 + "-production-like-secret-key-for-the-deploy-check-0123",
    "ALLOWED_HOSTS": "incidents.example.com",
    "SITE_URL": "https://incidents.example.com",
    "FIELD_ENCRYPTION_KEYS": "vMGQ1mKHxFNy1MbY4JUvmGPAYVbJq3xrRkN6B-Zr7Hw=",
    "EMAIL_HOST": "smtp.example.com",
    "DATABASE_URL": "postgres://incidentio@db.example.com:5432/incidentio",  # `check` does not connect
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "FIELD_ENCRYPTION_KEYS", "EMAIL_HOST", "EMAIL_CONSOLE"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://localhost/db"),
        ("DATABASE_URL", "sqlite:///db.sqlite3"),  # Postgres is the only database
        ("DATABASE_URL", "postgres://localhost:notaport/db"),
        ("REDIS_URL", "localhost:6379"),
        ("ALLOWED_HOSTS", "a.example.com,,b.example.com"),
        ("SESSION_COOKIE_AGE", "two weeks"),
        ("SITE_URL", "incidents.example.com"),
        ("REDIS_CACHE_TIMEOUT_S", "soon"),
        ("REDIS_BROKER_TIMEOUT_S", "1"),  # shorter than the workers' 1 s poll
        ("FIELD_ENCRYPTION_KEYS", "not-a-fernet-key"),
    ],
)
def test_malformed_value_fails_at_start_naming_the_variable(name, value):
    result = manage("check", **{name: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr.splitlines()[-1]


def test_missing_secret_key_with_debug_off_refuses_to_start():
    result = manage("check", DEBUG="0", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_missing_field_encryption_keys_with_debug_off_refuses_to_start():
    env = {k: v for k, v in PRODUCTION_LIKE.items() if k != "FIELD_ENCRYPTION_KEYS"}
    result = manage("check", **env)
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS must be set when DEBUG is off" in result.stderr


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("{good},wrong-key-kept-secret", "key 2 of 2 is not a Fernet key"),
        ("{good},,{good}", "key 2 of 3 is empty"),
    ],
)
def test_a_malformed_encryption_key_is_named_by_position_and_never_echoed(keys, message):
    good = PRODUCTION_LIKE["FIELD_ENCRYPTION_KEYS"]
    result = manage("check", **{**PRODUCTION_LIKE, "FIELD_ENCRYPTION_KEYS": keys.format(good=good)})
    assert result.returncode != 0
    assert f"FIELD_ENCRYPTION_KEYS: {message}" in result.stderr.splitlines()[-1]
    assert "wrong-key-kept-secret" not in result.stderr and good not in result.stderr


def test_production_without_an_smtp_server_refuses_to_start():
    """Console e-mail would put every password-reset and invitation link in the log."""
    env = {k: v for k, v in PRODUCTION_LIKE.items() if k != "EMAIL_HOST"}
    result = manage("check", **env)
    assert result.returncode != 0
    last = result.stderr.splitlines()[-1]
    assert "ImproperlyConfigured" in last and "EMAIL_HOST must be set when DEBUG is off" in last
    assert "EMAIL_CONSOLE=1" in last


@pytest.mark.parametrize(
    ("env", "backend"),
    [
        ({**PRODUCTION_LIKE}, "smtp"),
        ({**PRODUCTION_LIKE, "EMAIL_HOST": "", "EMAIL_CONSOLE": "1"}, "console"),
        ({"DEBUG": "1"}, "console"),
    ],
    ids=["production-smtp", "production-console-opt-in", "debug-console"],
)
def test_email_backend_follows_email_host_and_the_console_opt_in(env, backend):
    code = "from django.conf import settings as s; print(s.EMAIL_BACKEND)"
    result = manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == f"django.core.mail.backends.{backend}.EmailBackend"


def test_deploy_check_is_clean_under_production_like_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_LIKE)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_cookies_are_secure_httponly_and_samesite():
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY,"
        " s.SESSION_COOKIE_SAMESITE)"
    )
    result = manage("shell", "-c", code, **PRODUCTION_LIKE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["True", "True", "True", "Lax"]


def test_cache_is_never_a_dummy():
    backend = settings.CACHES["default"]["BACKEND"]
    assert "dummy" not in backend.lower() and "locmem" not in backend.lower()
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache
    from django.core.cache.backends.redis import RedisCache

    assert isinstance(caches["default"], RedisCache if settings.REDIS_URL else DatabaseCache), backend


@pytest.mark.django_db
def test_cache_round_trip():
    cache.set("probe", "value", 30)
    assert cache.get("probe") == "value"


def test_every_redis_call_has_a_deadline():
    """A Redis that accepts connections but never answers must not hold a
    request or a worker forever (tests/reliability freezes one)."""
    from django.core.cache import caches

    from incidentio.config.celery import app

    if not settings.REDIS_URL:
        pytest.skip("the embedded mode has no Redis")
    pool = caches["default"]._cache.get_client().connection_pool
    assert pool.connection_kwargs["socket_timeout"] == settings.REDIS_CACHE_TIMEOUT_S
    assert pool.connection_kwargs["socket_connect_timeout"] == settings.REDIS_CONNECT_TIMEOUT_S
    with app.connection_for_write() as connection:
        params = connection.default_channel.client.connection_pool.connection_kwargs
    assert params["socket_timeout"] == settings.REDIS_BROKER_TIMEOUT_S
    assert params["socket_connect_timeout"] == settings.REDIS_CONNECT_TIMEOUT_S
    assert app.conf.task_publish_retry_policy["max_retries"] == 1


def test_ci_runs_on_real_postgres_and_redis(db):
    if not REQUIRE_SERVICES:
        pytest.skip("Only CI (INCIDENTIO_REQUIRE_SERVICES=1) promises Postgres and Redis.")
    assert connection.vendor == "postgresql"
    assert settings.REDIS_URL
    assert settings.CACHES["default"]["BACKEND"].endswith("RedisCache")
    import redis

    assert redis.Redis.from_url(settings.REDIS_URL).ping()


def test_postgres_sessions_plan_for_ssd_storage(db):
    """random_page_cost 1.1 (not Postgres' spinning-disk 4): index lookups for a page's role assignments."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone()[0] == "1.1"


def test_a_malformed_random_page_cost_fails_at_start():
    result = manage("check", DATABASE_URL="postgres://postgres@127.0.0.1:5432/incidentio",
                    POSTGRES_RANDOM_PAGE_COST="fast")
    assert result.returncode != 0
    assert "POSTGRES_RANDOM_PAGE_COST" in result.stderr.splitlines()[-1]
