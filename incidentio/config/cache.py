"""Django's Redis cache, keeping one ``redis.Redis`` client per server.

Django's ``RedisCacheClient.get_client`` builds a new ``redis.Redis`` on every
cache call. The connections come from a pool either way, but building the
client fills its table of ~170 response callbacks: ≈ 0.2 ms, twice per API
request (the rate limit's counter), more than the whole bench ceiling's
response takes to serialize (docs/performance.md). A ``redis.Redis`` is safe
to share between threads (each command borrows a pooled connection), and the
pool notices a fork and starts over, so one client per pool serves the process.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class ReusedRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}  # connection pool (Django keeps one per server) -> redis.Redis

    def get_client(self, key=None, *, write=False):
        # The pool choice is Django's own (write to the first server, read from
        # any other); only the client around that pool is kept.
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client


class ReusedClientRedisCache(RedisCache):
    """``django.core.cache.backends.redis.RedisCache`` with :class:`ReusedRedisCacheClient`."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedRedisCacheClient
