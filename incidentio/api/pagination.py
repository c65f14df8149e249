"""Keyset pagination for every API list: ``?page_size=`` and ``?after=``.

The cursor is an opaque, signed token naming the last row's position in an
indexed unique ordering; the next page is a range query from there — never
OFFSET — so page 1,000 costs what page 1 costs. Rows created during a walk
never shift the pages already read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.core import signing
from django.db.models import F, Q
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


# --- Due dates: filters and a keyset on (due_at, id) ------------------------------------------------


class _TrueFalse(serializers.ChoiceField):
    """``true`` or ``false`` in a query string (DRF's BooleanField would also take yes, on, 1...)."""

    def __init__(self, **kwargs):
        super().__init__(choices=["true", "false"], **kwargs)

    def to_internal_value(self, data):
        return super().to_internal_value(data) == "true"


class DueParams(PageParams):
    """The due-date filters and sort of the task and follow-up lists (docs/api.md)."""

    overdue = _TrueFalse(required=False, help_text="true: outstanding and past its due date; false: the others.")
    due_before = serializers.DateTimeField(required=False, help_text="Due before this moment (exclusive).")
    due_after = serializers.DateTimeField(required=False, help_text="Due at or after this moment.")
    sort = serializers.ChoiceField(
        required=False, choices=["due_at", "-due_at"],
        help_text="due_at: soonest first; -due_at: latest first. Either way, rows without a due date come last.",
    )


def due_filtered(queryset, params: dict, *, outstanding: Q, now):
    """``queryset`` with the due filters of ``params`` (validated ``DueParams``)."""
    overdue = outstanding & Q(due_at__lte=now)
    if "overdue" in params:
        queryset = queryset.filter(overdue) if params["overdue"] else queryset.exclude(overdue)
    if "due_before" in params:
        queryset = queryset.filter(due_at__lt=params["due_before"])
    if "due_after" in params:
        queryset = queryset.filter(due_at__gte=params["due_after"])
    return queryset


def due_keyset(cursor: tuple[datetime | None, int] | None, *, descending: bool) -> Q:
    """Rows after ``cursor`` = (due_at, id) in the order due_at (ascending or
    descending), rows without a due date last, then id in the same direction."""
    if cursor is None:
        return Q()
    due_at, pk = cursor
    beyond = "lt" if descending else "gt"
    if due_at is None:
        return Q(due_at__isnull=True, **{f"id__{beyond}": pk})
    return (
        Q(**{f"due_at__{beyond}": due_at}) | Q(due_at=due_at, **{f"id__{beyond}": pk}) | Q(due_at__isnull=True)
    )


def due_ordering(*, descending: bool) -> list:
    due = F("due_at").desc(nulls_last=True) if descending else F("due_at").asc(nulls_last=True)
    return [due, "-id" if descending else "id"]


def paginate_by_due(queryset, *, kind: str, descending: bool, page_size: int, after: str | None) -> Page:
    """One page of ``queryset`` in due-date order (``due_keyset``)."""
    cursor = None
    if after:
        value = decode_cursor(kind, after)
        try:
            due, pk = value
            cursor = (datetime.fromisoformat(due) if due is not None else None, int(pk))
        except (TypeError, ValueError):
            raise serializers.ValidationError({"after": "This cursor is not valid."}) from None
    rows = list(queryset.filter(due_keyset(cursor, descending=descending))
                .order_by(*due_ordering(descending=descending))[: page_size + 1])
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(kind, [last.due_at.isoformat() if last.due_at else None, last.pk])
    return Page(rows=rows, after=next_cursor, page_size=page_size)
