"""Which Redis database a test may empty: one per pytest-xdist worker.

``make test`` runs the suite in several processes at once (pytest-xdist,
docs/testing.md). ``REDIS_URL``'s own database is shared by all of them: it
holds the cache, where every test has a key prefix of its own
(tests/conftest.py), and jobs queued by tests that nobody consumes.

A test that needs a Redis database to itself (a real ``celery worker`` taking
jobs from its queue, a queue whose length is asserted, a ``flushdb``) uses its
worker's private database instead: ``REDIS_URL``'s number plus one plus the
worker's index. With ``REDIS_URL=redis://host/10``: worker gw0 uses 11, gw1 12;
a run without xdist counts as gw0. So two workers never take each other's jobs
or empty each other's queues.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

#: Redis's default ``databases`` setting: numbers 0 to 15.
REDIS_DATABASE_COUNT = 16


def xdist_worker_index() -> int:
    """0 for gw0 or a run without xdist, 1 for gw1, …"""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def private_redis_url(redis_url: str) -> str:
    """``redis_url`` pointed at this worker's private database."""
    parts = urlsplit(redis_url)
    shared = int(parts.path.strip("/") or 0)
    private = shared + 1 + xdist_worker_index()
    if private >= REDIS_DATABASE_COUNT:
        raise RuntimeError(
            f"xdist worker {xdist_worker_index()} needs Redis database {private}, past Redis's last "
            f"({REDIS_DATABASE_COUNT - 1}): use a lower database in REDIS_URL (now {shared}) or fewer workers (-n)"
        )
    return urlunsplit((parts.scheme, parts.netloc, f"/{private}", parts.query, parts.fragment))
