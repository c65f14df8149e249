"""Which database the hot paths run on.

A few hot reads are plain Postgres SQL (docs/performance.md): ``ANY(array)``,
``json_agg``, native UUID and timestamp columns. The embedded mode (``make
run``) runs on SQLite, where those reads fall back to the ORM queries they
replace; tests/test_sql_fallbacks.py holds both paths to the same output.
"""

from __future__ import annotations

from django.db import connection


def on_postgres() -> bool:
    return connection.vendor == "postgresql"
