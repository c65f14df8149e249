"""The per-key rate limit answers 429 ``too_many_requests`` with ``Retry-After``.

The limit is lowered for the test (the throttle reads the setting on every
request). Counters live in the cache (Redis in the Postgres run;
``tests/conftest.py`` gives each test its own key prefix).
"""

from __future__ import annotations

import pytest

from orgs.models import ApiKeyRole
from tests.api_learning.conftest import ApiClient, tasks_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def five_a_minute(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                               "DEFAULT_THROTTLE_RATES": {"api_key": "5/min"}}


def test_the_sixth_request_in_a_minute_is_429_and_another_key_is_unaffected(five_a_minute, acme, make_key):
    busy = ApiClient(make_key(acme, ApiKeyRole.VIEWER))
    other = ApiClient(make_key(acme, ApiKeyRole.VIEWER))

    for _ in range(5):
        assert busy.get("learning_tasks").status_code == 200
    limited = busy.get("learning_flow")  # the limit is per key, across endpoints

    assert limited.status_code == 429
    body = limited.json()
    assert body["type"] == "too_many_requests" and body["status"] == 429 and body["request_id"]
    assert body["request_id"] == limited["X-Request-Id"]
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert other.get("learning_tasks").status_code == 200


def test_a_limited_key_writes_nothing(five_a_minute, acme, make_key, in_documenting):
    editor = ApiClient(make_key(acme, ApiKeyRole.VIEWER, ApiKeyRole.INCIDENT_EDITOR))
    for _ in range(5):
        editor.get("learning_tasks")
    task = tasks_of(in_documenting)[0]

    response = editor.post(f"learning_tasks/{task.public_id}/actions/complete")

    assert response.status_code == 429
    task.refresh_from_db()
    assert task.state == "outstanding"


def test_parallel_requests_cannot_overrun_the_limit(five_a_minute, acme, make_key, settings):
    """Counting is one atomic increment per request, so racing requests are all counted.

    Needs Redis, the production cache (CI runs it; the database cache's incr is not atomic).
    """
    from concurrent.futures import ThreadPoolExecutor

    if not settings.REDIS_URL:
        pytest.skip("atomic counting across threads is a property of the Redis cache")

    from incidentio.api.throttling import ApiKeyRateThrottle, parse_rate

    assert parse_rate("1200/min") == (1200, 60)
    key = make_key(acme, ApiKeyRole.VIEWER)
    from orgs.models import ApiKey

    api_key = ApiKey.objects.get(org=acme)
    throttle = ApiKeyRateThrottle()

    class Request:
        auth = api_key
        META = {"REMOTE_ADDR": "127.0.0.1"}

    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = list(pool.map(lambda _: throttle.allow_request(Request, None), range(40)))
    assert allowed.count(True) == 5
    assert key
