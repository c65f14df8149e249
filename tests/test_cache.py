"""The Redis cache keeps one client per server (incidentio/config/cache.py)."""

from __future__ import annotations

import multiprocessing

import pytest
from django.conf import settings
from django.core.cache import cache

pytestmark = pytest.mark.skipif(not settings.REDIS_URL, reason="the Redis cache backend needs REDIS_URL")


def test_cache_calls_share_one_client_and_still_round_trip():
    cache.set("probe", {"a": 1}, 30)
    first = cache._cache.get_client("probe", write=True)
    assert cache.get("probe") == {"a": 1}
    cache.add("counter", 0, 30)
    assert cache.incr("counter") == 1
    assert cache._cache.get_client("other") is first
    assert first.connection_pool is cache._cache._get_connection_pool(False)


def _child_round_trip(queue) -> None:
    # The parent's cache object, its kept client and its pool, as a forked worker inherits them.
    cache.set("from-child", "hello", 30)
    queue.put(cache.get("from-child"))


def test_a_forked_process_uses_the_cache_on_connections_of_its_own():
    """Gunicorn forks its workers: the shared client must not hand a child the parent's sockets."""
    cache.set("before-fork", 1, 30)  # the parent's pool holds a connection
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child_round_trip, args=(queue,))
    process.start()
    process.join(30)
    assert process.exitcode == 0
    assert queue.get(timeout=5) == "hello"
    assert cache.get("from-child") == "hello"
    assert cache.get("before-fork") == 1
