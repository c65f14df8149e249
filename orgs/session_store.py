"""Django's database sessions, with the per-request read as one prepared statement.

Every dashboard request reads its session first; the read is
``orgs.queries.live_session`` (its measured gain is there). Writing, expiry
and everything else stay Django's.

Why not ``cached_db``: its ``load()`` writes the cache unguarded after a
database read, so a Redis outage would turn every signed-in request into a
500. Sessions stay in Postgres, which the request needs anyway.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.utils import timezone

from orgs import queries


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self):
        session = queries.live_session(self.session_key, timezone.now())
        if session is None:
            # As Django's: an unknown or expired key is dropped, and a new one is made on save.
            self._session_key = None
        return session
