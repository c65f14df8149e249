"""Insights in the public API (``/api/v2/``, docs/api.md): ``GET
/insights/{panel}`` answers one panel of the Insights page with every chart's
rows, for the same filters as the page (``insight_filters_parse``; the type
and severity filters take the API's ``[one_of]`` names). The response is
``Panel.as_dict``, the representation the page draws and tabulates.

Any key reads it, as it reads incidents. An unknown panel is a 404; a filter
``insight_filters_parse`` refuses is a 422 naming the parameter.
"""

from __future__ import annotations

from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, NotFound, ValidationError
from rest_framework.response import Response

from incidentio.api.base import OrgApiView
from incidentio.api.serializers import EnumField, errors
from insights.charts import ChartKind, Unit
from insights.filters import (
    DEFAULT_PRESET,
    MAX_RANGE_DAYS,
    PRESETS,
    InsightFilterError,
    insight_filters_parse,
    org_today,
)
from insights.panels import PANELS
from insights.selectors import insight_panel

TYPE_PARAM, SEVERITY_PARAM = "incident_type[one_of]", "severity[one_of]"

# --- The response's shape, for the schema ------------------------------------------------------


class InsightColumnOut(serializers.Serializer):
    key = serializers.CharField(help_text="The rows' key for this column.")
    label = serializers.CharField()
    unit = EnumField([u.value for u in Unit], enum_name="InsightUnit",
                     help_text="count: an integer; hours and percent: numbers rounded to 1 decimal; date: an ISO "
                     "week's Monday (2026-11-02) or a month (2026-11); text.")


class InsightChartOut(serializers.Serializer):
    id = serializers.CharField(help_text="Fixed per chart, e.g. declared_per_week (docs/insights.md).")
    title = serializers.CharField()
    description = serializers.CharField(help_text="What is counted, from which timestamp.")
    kind = EnumField([k.value for k in ChartKind], enum_name="InsightChartKind",
                     help_text="stacked: bars over x, stacked by series; grouped: bars side by side per x, with a "
                     "tick at marker; horizontal: one bar per text category x.")
    x = serializers.CharField(help_text="The column of the bars' position (a date or a text category).")
    y = serializers.CharField(help_text="The column of the bars' length.")
    series = serializers.CharField(allow_null=True, help_text="The column that splits the bars, or null.")
    marker = serializers.CharField(allow_null=True, help_text="A column drawn as a tick on each bar (a p90), or null.")
    columns = InsightColumnOut(many=True)
    rows = serializers.ListField(
        child=serializers.DictField(),
        help_text="One row per bar (segment): a value per column key, and link, the dashboard's incidents list "
        "filtered to the incidents behind it (a path). Empty when nothing in the range counts.",
    )
    empty_text = serializers.CharField(help_text="What the chart says when it has no rows.")


InsightRangeOut = type("InsightRangeOut", (serializers.Serializer,), {
    "from": serializers.DateField(help_text="The first local day covered."),
    "to": serializers.DateField(help_text="The last local day covered (inclusive)."),
    "time_zone": serializers.CharField(help_text="The organization's time zone: days, weeks and months are its."),
    "preset": serializers.CharField(allow_null=True, help_text="The range preset (30d, 90d, 365d), or null for "
                                    "from and to."),
})


class InsightPanelResponse(serializers.Serializer):
    panel = serializers.CharField()
    title = serializers.CharField()
    range = InsightRangeOut()
    charts = InsightChartOut(many=True)


# --- The endpoint ------------------------------------------------------------------------------

PARAMETERS = [
    OpenApiParameter("panel", OpenApiTypes.STR, OpenApiParameter.PATH, enum=list(PANELS),
                     description="The panel: " + ", ".join(PANELS) + "."),
    OpenApiParameter("range", OpenApiTypes.STR, enum=list(PRESETS), default=DEFAULT_PRESET,
                     description="The last 30, 90 or 365 days, today included, in the organization's time zone."),
    OpenApiParameter("from", OpenApiTypes.DATE,
                     description=f"With to: a range of local days instead of range (at most {MAX_RANGE_DAYS} days)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="With from: the range's last day, inclusive."),
    OpenApiParameter(TYPE_PARAM, OpenApiTypes.UUID, many=True, explode=True, style="form",
                     description="Incident type ids; repeat the parameter or separate ids with commas."),
    OpenApiParameter(SEVERITY_PARAM, OpenApiTypes.UUID, many=True, explode=True, style="form",
                     description="Severity ids; repeat the parameter or separate ids with commas."),
]


class InsightPanelView(OrgApiView):
    @extend_schema(
        operation_id="insights_show", tags=["Insights"], summary="One Insights panel",
        description="Every chart of one panel of the Insights page, with its rows, for a range of days and "
        "optionally some incident types and severities (docs/insights.md defines each number). Declined, merged "
        "and canceled incidents are never counted. An unknown or malformed filter is a 422 naming the parameter.",
        parameters=PARAMETERS, responses={200: InsightPanelResponse, **errors(404, 422)},
    )
    def get(self, request, panel):
        if panel not in PANELS:
            raise NotFound(f"There is no such Insights panel; the panels are {', '.join(PANELS)}.")
        now = timezone.now()
        try:
            filters = insight_filters_parse(self.org, request.query_params, today=org_today(self.org, now),
                                            type_param=TYPE_PARAM, severity_param=SEVERITY_PARAM)
        except InsightFilterError as error:
            raise ValidationError({error.param: [ErrorDetail(error.message, code="invalid")]}) from None
        return Response(insight_panel(self.org, panel, filters, now=now).as_dict(filters))


urlpatterns = [
    path("insights/<str:panel>", InsightPanelView.as_view(), name="insights_panel"),
]
