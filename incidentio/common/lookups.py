"""The one way a selector fetches a tenant's object by a key it was given.

The queryset is already narrowed to the org (``Model.objects.filter(org=org)``),
so another org's object is simply not found. "Missing", "another org's" and
"malformed" (a key that is not a UUID, a number that is not one) all give the
same 404, so a response never tells an outsider which of them it was.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404


def get_or_404(queryset: QuerySet, what: str, **lookup):
    """The one object of ``queryset`` matching ``lookup``, or ``Http404("No such <what>.")``."""
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404(f"No such {what}.") from None
