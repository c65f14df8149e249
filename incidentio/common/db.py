"""How the hot reads' plain SQL runs.

A few hot reads are plain Postgres SQL (docs/performance.md): ``ANY(array)``,
``json_agg``, native UUID and timestamp columns. Postgres is the only
database, so each has this one path.

They run as prepared statements (:func:`execute_hot`): the
planner's work for the incidents list's page (0.5 ms of its 1.5 ms round trip
on the bench data) is done once per connection instead of on every request.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

from django.conf import settings
from django.db import OperationalError, connection
from django.db.models import Model

#: SQLSTATE invalid_sql_statement_name: ``EXECUTE`` of a statement the server does not have.
_NO_SUCH_STATEMENT = "26000"


_PLACEHOLDER = re.compile(r"%%|%s")


@lru_cache(maxsize=512)  # a few dozen distinct hot statements (filter combinations)
def _numbered(sql: str) -> tuple[str, int]:
    """``%s`` placeholders as ``$1, $2, …`` (and ``%%`` as ``%``), and how many there are."""
    count = 0

    def number(match: re.Match) -> str:
        nonlocal count
        if match.group() == "%%":
            return "%"
        count += 1
        return f"${count}"

    return _PLACEHOLDER.sub(number, sql), count


@lru_cache(maxsize=512)
def _statement_name(numbered: str) -> str:
    return "hot_" + hashlib.blake2b(numbered.encode(), digest_size=8).hexdigest()


def _prepared_names() -> set[str]:
    """The statements prepared on the current physical connection.

    Kept with the psycopg2 connection they belong to: when Django reconnects
    (``CONN_MAX_AGE``, a failed health check) the set starts empty again.
    Prepared statements outlive the transaction that made them, rolled back or
    not, so the set stays true across transactions.
    """
    raw = connection.connection
    held = getattr(connection, "_incidentio_prepared", None)
    if held is None or held[0] is not raw:
        held = (raw, set())
        connection._incidentio_prepared = held
    return held[1]


def execute_hot(cursor, sql: str, params: list) -> None:
    """``cursor.execute(sql, params)`` for a hot read with ``%s`` placeholders,
    as a prepared statement when ``DB_PREPARED_STATEMENTS`` is on.

    Each distinct SQL text is prepared once per connection under a name derived
    from it, then run with ``EXECUTE``; the parameters are still passed by
    psycopg2, so quoting is unchanged. A statement the server no longer has
    (a pooler that hands out another server connection, a ``DISCARD ALL``)
    is prepared again when that is safe, outside a transaction; inside one the
    error propagates and the next attempt prepares afresh. Behind a
    transaction-pooling pgbouncer set ``DB_PREPARED_STATEMENTS=0``.
    """
    if not settings.DB_PREPARED_STATEMENTS:
        cursor.execute(sql, params)
        return
    prepared = _prepared_names()
    numbered, count = _numbered(sql)
    if count != len(params):
        raise ValueError(f"{count} placeholders but {len(params)} parameters")
    name = _statement_name(numbered)
    run = f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"
    if name not in prepared:
        cursor.execute(f"PREPARE {name} AS {numbered}")
        prepared.add(name)
    try:
        cursor.execute(run, params)
    except OperationalError as error:
        if getattr(error.__cause__, "pgcode", None) != _NO_SUCH_STATEMENT:
            raise
        prepared.clear()
        if not connection.get_autocommit() or connection.in_atomic_block:
            raise
        cursor.execute(f"PREPARE {name} AS {numbered}")
        prepared.add(name)
        cursor.execute(run, params)


# --- model instances from plain SQL rows ---------------------------------------------


@lru_cache(maxsize=64)
def _loaded_fields(model: type[Model], defer: tuple[str, ...]) -> tuple[list, list[str], tuple]:
    """The fields read, their attnames, and which of them (by position) convert what the database returns."""
    fields = [field for field in model._meta.concrete_fields if field.attname not in defer]
    converted = tuple((i, field) for i, field in enumerate(fields) if hasattr(field, "from_db_value"))
    return fields, [field.attname for field in fields], converted


def model_columns(model: type[Model], alias: str, defer: tuple[str, ...] = ()) -> str:
    """Every concrete column of ``model`` (but the ``defer`` ones) under the
    table alias ``alias``, in field order."""
    return ", ".join(f"{alias}.{field.column}" for field in _loaded_fields(model, defer)[0])


def model_width(model: type[Model], defer: tuple[str, ...] = ()) -> int:
    return len(_loaded_fields(model, defer)[0])


def model_from_row(model: type[Model], values, defer: tuple[str, ...] = ()):
    """A model instance from its concrete columns in order (``model_columns``),
    as the ORM loads one: each field's ``from_db_value`` converter applied, the
    ``defer`` ones left deferred."""
    fields, attnames, converted = _loaded_fields(model, defer)
    if len(values) != len(fields):
        raise ValueError(f"{model.__name__}: {len(values)} values for {len(fields)} fields")
    if converted:
        values = list(values)
        for i, field in converted:
            values[i] = field.from_db_value(values[i], None, connection)
    return model.from_db(connection.alias, attnames, values)


@lru_cache(maxsize=64)
def _fields_by_attname(model: type[Model]) -> dict:
    return {field.attname: field for field in model._meta.concrete_fields}


@lru_cache(maxsize=64)
def _in_field_order(model: type[Model], attnames: tuple[str, ...]) -> bool:
    order = list(_fields_by_attname(model))
    return [order.index(name) for name in attnames] == sorted(order.index(name) for name in attnames)


def model_from_json(model: type[Model], attnames: tuple[str, ...], values):
    """A model instance from a JSON array of the ``attnames`` columns (``json_build_array``
    in a query): JSON's strings made back into timestamps, UUIDs, … by each field's
    ``to_python``. Fields not named are deferred, as with ``only()``."""
    fields = _fields_by_attname(model)
    if not _in_field_order(model, attnames):
        raise ValueError(f"{model.__name__}: from_db takes values in field order, not {attnames}")
    values = [None if value is None else fields[name].to_python(value)
              for name, value in zip(attnames, values, strict=True)]
    return model.from_db(connection.alias, list(attnames), values)
