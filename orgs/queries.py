"""The orgs app's hand-written SQL: the two reads every dashboard request makes.

Each is one prepared statement (:func:`~incidentio.common.db.execute_hot`)
because the ORM spent more Python building it on every request than Postgres
spends answering; each says what that bought, measured on the bench's data
(docs/performance.md). Everything else reads through the ORM (``selectors.py``).
"""

from __future__ import annotations

from django.contrib.sessions.models import Session
from django.db import connection

from incidentio.common.db import execute_hot, model_columns, model_from_row
from orgs.models import Membership, Organization, User
from orgs.sso.models import OrgSSO


def _fetchone(sql: str, params: list):
    with connection.cursor() as cursor:
        execute_hot(cursor, sql, params)
        return cursor.fetchone()


# Measured: ≈ −0.5 ms per dashboard request (the membership check, three tables).
# The org's SSO row rides along (a LEFT JOIN on a unique key) rather than
# costing every request a second query: whether the org requires single
# sign-on decides whether a password session may still use it.
_MEMBERSHIP_WIDTH = len(Membership._meta.concrete_fields)
_ORG_WIDTH = len(Organization._meta.concrete_fields)
_USER_WIDTH = len(User._meta.concrete_fields)
_ACTIVE_MEMBERSHIP_SQL = f"""
    SELECT {model_columns(Membership, "m")}, {model_columns(Organization, "o")}, {model_columns(User, "u")},
           COALESCE(s.enabled AND s.enforced, false)
    FROM {Membership._meta.db_table} m
    JOIN {Organization._meta.db_table} o ON o.id = m.org_id
    JOIN {User._meta.db_table} u ON u.id = m.user_id
    LEFT JOIN {OrgSSO._meta.db_table} s ON s.org_id = o.id
    WHERE o.slug = %s AND m.user_id = %s AND u.is_active
"""


def active_membership(org_slug: str, user_id: int) -> Membership | None:
    """The active user's membership of the org with that slug, with ``org`` and
    ``user`` loaded, and ``org.sso_required``: whether the org requires single
    sign-on (its ``OrgSSO`` is enabled and enforced)."""
    row = _fetchone(_ACTIVE_MEMBERSHIP_SQL, [org_slug, user_id])
    if row is None:
        return None
    user_end = _MEMBERSHIP_WIDTH + _ORG_WIDTH + _USER_WIDTH
    membership = model_from_row(Membership, row[:_MEMBERSHIP_WIDTH])
    membership.org = model_from_row(Organization, row[_MEMBERSHIP_WIDTH:_MEMBERSHIP_WIDTH + _ORG_WIDTH])
    membership.org.sso_required = bool(row[user_end])
    membership.user = model_from_row(User, row[_MEMBERSHIP_WIDTH + _ORG_WIDTH:user_end])
    return membership


# Measured: ≈ −0.4 ms per dashboard page (Session.objects.get compiled the same
# primary-key lookup on every request, ≈ 0.3 ms of Python).
_SESSION_SQL = f"""
    SELECT session_data, expire_date FROM {Session._meta.db_table}
    WHERE session_key = %s AND expire_date > %s
"""


def live_session(session_key: str, now) -> Session | None:
    """The session with that key unless it expired before ``now``."""
    row = _fetchone(_SESSION_SQL, [session_key, now])
    if row is None:
        return None
    session_data, expire_date = row
    return Session(session_key=session_key, session_data=session_data, expire_date=expire_date)
