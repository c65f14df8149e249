"""What the database itself holds, read with a raw cursor past the ORM (and its decryption)."""

from __future__ import annotations

from django.db import connection


def stored_value(instance, field_name: str):
    """The column of ``field_name`` for ``instance``'s row, as stored."""
    meta = instance._meta
    quote = connection.ops.quote_name
    column = meta.get_field(field_name).column
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote(column)} FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s", [instance.pk]
        )
        return cursor.fetchone()[0]
