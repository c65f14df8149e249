"""Django's database sessions, with the per-request read as one prepared statement.

Every dashboard request reads its session first. Through the ORM
(``Session.objects.get``) that read compiled the same query on every request:
≈ 0.3 ms of Python around a lookup by primary key that Postgres answers in a
fraction of that (docs/performance.md). Here it runs through
``incidentio.common.db.execute_hot``. Writing, expiry and everything else stay
Django's.

Why not ``cached_db``: its ``load()`` writes the cache unguarded after a
database read, so a Redis outage would turn every signed-in request into a
500. Sessions stay in Postgres, which the request needs anyway.
"""

from __future__ import annotations

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from incidentio.common.db import execute_hot

_SQL = f"""
SELECT session_data, expire_date FROM {Session._meta.db_table}
WHERE session_key = %s AND expire_date > %s
"""


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self):
        with connection.cursor() as cursor:
            execute_hot(cursor, _SQL, [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            # As Django's: an unknown or expired key is dropped, and a new one is made on save.
            self._session_key = None
            return None
        session_data, expire_date = row
        return Session(session_key=self.session_key, session_data=session_data, expire_date=expire_date)
