"""The session store (orgs/session_store.py): Django's database sessions, read
with one prepared statement on Postgres and through the ORM elsewhere."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orgs.session_store import SessionStore

pytestmark = pytest.mark.django_db


def _saved(data: dict) -> str:
    store = SessionStore()
    store.update(data)
    store.save()
    return store.session_key


def test_a_saved_session_loads_back_whole():
    key = _saved({"_org_sessions": {"acme": {"uid": 7, "hash": "abc"}}, "n": 1})

    store = SessionStore(key)

    assert store.load() == {"_org_sessions": {"acme": {"uid": 7, "hash": "abc"}}, "n": 1}
    assert store.session_key == key


@pytest.mark.parametrize("key", ["expired", "unknown"])
def test_an_expired_or_unknown_key_loads_empty_and_is_not_reused(key):
    saved = _saved({"n": 1})
    Session.objects.filter(session_key=saved).update(expire_date=timezone.now() - timedelta(seconds=1))
    store = SessionStore(saved if key == "expired" else "x" * 32)

    assert store.load() == {}
    store["n"] = 2
    store.save()

    # Saving starts a session under a new key: one that was never issued here,
    # or one that ended, is never brought back to life.
    assert store.session_key not in (saved, "x" * 32)
    assert Session.objects.get(session_key=store.session_key).get_decoded() == {"n": 2}


def test_a_signed_in_page_reads_its_session_with_the_prepared_statement(acme, owner, signed_in):
    client = signed_in(owner, acme)
    client.get("/acme/incidents/")  # the statement is prepared on first use

    with CaptureQueriesContext(connection) as queries:
        assert client.get("/acme/incidents/").status_code == 200

    sqls = [query["sql"] for query in queries.captured_queries]
    assert not any("django_session" in sql for sql in sqls)  # not the ORM's query
    assert sqls[0].startswith("EXECUTE hot_")


def test_a_session_that_has_expired_signs_the_browser_out(acme, owner, signed_in):
    client = signed_in(owner, acme)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))

    response = client.get("/acme/incidents/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")

