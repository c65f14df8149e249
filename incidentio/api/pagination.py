"""Keyset pagination for every API list: ``?page_size=`` and ``?after=``.

The cursor is an opaque, signed token naming the last row's position in an
indexed unique ordering; the next page is a range query from there — never
OFFSET — so page 1,000 costs what page 1 costs. Rows created during a walk
never shift the pages already read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core import signing
from rest_framework import serializers

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 250
_SALT = "incidentio.api.cursor"


class PageParams(serializers.Serializer):
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE,
                                         default=DEFAULT_PAGE_SIZE)
    after = serializers.CharField(required=False, allow_blank=False)


def list_kind(name: str, query_params) -> str:
    """The cursor kind of one list *with its filters*: a cursor from the same list
    with other filters is refused instead of silently returning the wrong rows."""
    filters = sorted(
        (key, value)
        for key in query_params
        if key not in ("after", "page_size")
        for value in query_params.getlist(key)
    )
    digest = hashlib.sha256(repr(filters).encode()).hexdigest()[:16]
    return f"{name}:{digest}"


def encode_cursor(kind: str, value) -> str:
    return signing.dumps([kind, value], salt=_SALT, compress=True)


def decode_cursor(kind: str, cursor: str):
    try:
        found_kind, value = signing.loads(cursor, salt=_SALT)
    except (signing.BadSignature, ValueError, TypeError):
        raise serializers.ValidationError(
            {"after": "This cursor is not valid; use pagination_meta.after as given."}
        ) from None
    if found_kind != kind:
        raise serializers.ValidationError(
            {"after": "This cursor belongs to another list or other filters; start again without it."}
        )
    return value


@dataclass
class Page:
    rows: list
    after: str | None
    page_size: int


def cursor_value(kind: str, after: str | None) -> int | None:
    """The key value a cursor of ``kind`` points after, or None without one."""
    if not after:
        return None
    value = decode_cursor(kind, after)
    if not isinstance(value, int):
        raise serializers.ValidationError({"after": "This cursor is not valid."})
    return value


def page_of(rows: list, *, kind: str, key: str, page_size: int) -> Page:
    """A page from up to ``page_size + 1`` rows read in key order (one more than
    the page tells whether there is a next one)."""
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    last = rows[-1] if rows else None
    last_key = last[key] if isinstance(last, dict) else getattr(last, key, None)  # rows from values() are dicts
    next_cursor = encode_cursor(kind, last_key) if has_more and rows else None
    return Page(rows=rows, after=next_cursor, page_size=page_size)


def paginate(queryset, *, kind: str, key: str, descending: bool, page_size: int, after: str | None) -> Page:
    """One page of ``queryset`` ordered by the unique integer column ``key``."""
    value = cursor_value(kind, after)
    if value is not None:
        queryset = queryset.filter(**{f"{key}__{'lt' if descending else 'gt'}": value})
    rows = list(queryset.order_by(f"-{key}" if descending else key)[: page_size + 1])
    return page_of(rows, kind=kind, key=key, page_size=page_size)


def pagination_meta(page: Page, **extra) -> dict:
    return {"after": page.after, "page_size": page.page_size, **extra}
