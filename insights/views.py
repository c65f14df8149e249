"""The Insights page and its CSV downloads (docs/insights.md).

Every member may look, viewers included: the page counts incidents the
incidents list already shows them. The filters come from the query string,
read by ``insight_filters_parse`` exactly as the API reads them; a filter it
refuses is a 400 page with the message next to that field, and no charts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from incidentio.incidents.models import IncidentType, Severity
from insights.csv_export import chart_csv, chart_csv_filename
from insights.filters import PRESETS, InsightFilterError, InsightFilters, insight_filters_parse, org_today, split_ids
from insights.presentation import chart_view
from insights.selectors import insight_panel, insight_panels
from orgs.views.base import OrgView

CUSTOM = "custom"
RANGE_CHOICES = [*((value, label) for value, (_days, label) in PRESETS.items()), (CUSTOM, "Custom dates")]


@dataclass(frozen=True)
class FilterForm:
    """The filters form's values: what was asked, as it was asked when it was refused."""

    range: str
    first: str = ""
    last: str = ""
    types: frozenset[str] = field(default_factory=frozenset)
    severities: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, filters: InsightFilters) -> FilterForm:
        custom = not filters.preset
        return cls(
            range=filters.preset or CUSTOM,
            first=filters.period.first.isoformat() if custom else "",
            last=filters.period.last.isoformat() if custom else "",
            types=frozenset(str(t.public_id) for t in filters.incident_types),
            severities=frozenset(str(s.public_id) for s in filters.severities),
        )

    @classmethod
    def asked(cls, query) -> FilterForm:
        first, last = (query.get("from") or "").strip(), (query.get("to") or "").strip()
        return cls(
            range=(query.get("range") or "").strip() or (CUSTOM if first or last else next(iter(PRESETS))),
            first=first, last=last, types=frozenset(split_ids(query, "incident_type")),
            severities=frozenset(split_ids(query, "severity")),
        )


class InsightsView(OrgView):
    def get(self, request, org_slug):
        now = timezone.now()
        try:
            filters = insight_filters_parse(self.org, request.GET, today=org_today(self.org, now))
        except InsightFilterError as error:
            return self.render(FilterForm.asked(request.GET), error=error, status=400)
        panels = [
            (panel.slug, panel.title, [chart_view(self.org, panel.slug, chart, filters) for chart in panel.charts])
            for panel in insight_panels(self.org, filters, now=now)
        ]
        return self.render(FilterForm.of(filters), filters=filters, panels=panels)

    def render(self, form: FilterForm, *, filters=None, panels=(), error=None, status=200):
        context = self.get_context_data(
            nav="insights", form=form, filters=filters, panels=panels, error=error, range_choices=RANGE_CHOICES,
            incident_types=IncidentType.objects.filter(org=self.org).order_by("rank", "pk"),
            severities=Severity.objects.filter(org=self.org).order_by("rank", "pk"),
        )
        return render(self.request, "insights/insights.html", context, status=status)


class InsightCsvView(OrgView):
    """One chart's rows as a CSV attachment, for the same filters as the page that links to it."""

    def get(self, request, org_slug, panel, chart_id):
        now = timezone.now()
        try:
            filters = insight_filters_parse(self.org, request.GET, today=org_today(self.org, now))
        except InsightFilterError as error:
            return HttpResponse(f"{error.param}: {error.message}\n", status=400,
                                content_type="text/plain; charset=utf-8")
        found = insight_panel(self.org, panel, filters, now=now)
        chart = found.chart(chart_id) if found is not None else None
        if chart is None:
            raise Http404("No such chart.")
        response = HttpResponse(chart_csv(chart), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{chart_csv_filename(chart, filters)}"'
        return response
