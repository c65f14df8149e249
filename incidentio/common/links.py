"""Links to dashboard pages for lists, built without reversing a URL per row."""

from __future__ import annotations

from django.urls import reverse


def incident_url_prefix(org) -> str:
    """``/<org>/incidents/``, the incident page's URL without its id: reversed once
    per list instead of once per row (``{% url %}`` is ~40 µs). Append
    ``<public id>/`` for an incident's page."""
    marker = "00000000-0000-0000-0000-000000000000"
    path = reverse("incident_detail", kwargs={"org_slug": org.slug, "incident_id": marker})
    return path.removesuffix(f"{marker}/")
