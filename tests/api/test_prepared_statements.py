"""The hot plain-SQL reads run as prepared statements on Postgres
(incidentio/common/db.py): prepared once per connection, the same answers, and still
answering when the server has forgotten them."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection, transaction

from incidentio.common.actors import Actor
from incidentio.common.db import _numbered, execute_hot
from incidentio.incidents.services.incidents import incident_declare

LIST = "/api/v2/incidents?page_size=2"


def _prepared() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE name LIKE 'hot_%%'")
        return {row[0] for row in cursor.fetchall()}


def _hot_value(sql: str, params: list):
    with connection.cursor() as cursor:
        execute_hot(cursor, sql, params)
        return cursor.fetchone()


def _forget_on_the_server():
    """What a pooler's server reset does: the server drops them, this process still counts them prepared."""
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")


@pytest.fixture
def incidents(acme, owner):
    for n in range(3):
        incident_declare(org=acme, actor=Actor.for_user(owner), name=f"Incident {n}")


def test_placeholders_are_numbered_and_literal_percent_signs_kept():
    assert _numbered("SELECT %s, '100%%', x = ANY(%s) LIMIT %s") == ("SELECT $1, '100%', x = ANY($2) LIMIT $3", 3)
    with pytest.raises(ValueError, match="2 placeholders but 1 parameters"):
        execute_hot(None, "SELECT %s, %s", [1])  # refused before any SQL is sent


@pytest.mark.django_db
def test_the_incidents_list_is_prepared_once_per_connection(acme, incidents, api, api_key):
    client = api(api_key(acme))
    first = client.get(LIST).json()
    prepared = _prepared()
    assert prepared, "the list's page and count ran as prepared statements"
    second = client.get(LIST).json()
    # The cursor is signed with a timestamp in seconds: compare what it points at.
    for page in (first, second):
        page["pagination_meta"]["after"] = page["pagination_meta"]["after"].split(":")[0]
    assert second == first and len(first["incidents"]) == 2
    assert first["pagination_meta"]["total_record_count"] == 3
    assert _prepared() == prepared  # the second request prepared nothing new
    page_2 = client.get(f"{LIST}&after={client.get(LIST).json()['pagination_meta']['after']}").json()
    assert [i["reference"] for i in page_2["incidents"]] == ["INC-1"]


@pytest.mark.django_db(transaction=True)
def test_a_forgotten_statement_is_prepared_again_outside_a_transaction():
    assert _hot_value("SELECT %s::int + 1", [1]) == (2,)
    _forget_on_the_server()
    assert _hot_value("SELECT %s::int + 1", [41]) == (42,)
    assert len(_prepared()) == 1


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_a_forgotten_statement_fails_that_transaction_only():
    assert _hot_value("SELECT %s::int * 2", [2]) == (4,)
    _forget_on_the_server()
    with pytest.raises(OperationalError, match="does not exist"), transaction.atomic():
        _hot_value("SELECT %s::int * 2", [3])
    assert _hot_value("SELECT %s::int * 2", [5]) == (10,)  # prepared afresh


@pytest.mark.django_db
def test_off_runs_plain_sql(settings, acme, incidents, api, api_key, unprepared_connection):
    settings.DB_PREPARED_STATEMENTS = False
    body = api(api_key(acme)).get(LIST).json()
    assert [i["reference"] for i in body["incidents"]] == ["INC-3", "INC-2"]
    assert _prepared() == set()
