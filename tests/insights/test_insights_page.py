"""The Insights page (``/<org>/insights/``) and its CSV downloads, through the
test client: who may see it, the filters as the form sends them, the table
under each chart (the numbers the API returns for the same filters), the CSV
(the chart's ``csv_rows``, formulas neutralised) and the empty state.

Most tests run twice: with the registered panels over a few real incidents,
and with stand-in panels (tests/insights/fake_panels.py) whose charts have
every kind of row, so they hold whatever the charts count."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser

import pytest
from django.http import QueryDict
from django.utils import timezone

from incidentio.common.actors import Actor
from incidentio.incidents.models import IncidentType, Severity
from incidentio.incidents.services.incidents import incident_declare
from insights.csv_export import csv_cell
from insights.filters import insight_filters_parse, org_today
from insights.panels import PANELS
from insights.presentation import value_text
from learning.services.flow import incident_close
from orgs.models import ApiKeyRole, Membership
from orgs.services import api_key_create
from tests.insights.fake_panels import REASONS, fake_panels  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

PAGE = "/acme/insights/"


@pytest.fixture(params=["registered", "stand-ins"])
def panels(request, acme, owner, eager_celery):
    """The page's panels: the registered ones over a few incidents, or the stand-ins."""
    actor = Actor.for_user(owner)
    severities = list(Severity.objects.filter(org=acme))
    for number, severity in enumerate([*severities, None]):
        incident = incident_declare(org=acme, actor=actor, name=f"Outage {number}", severity=severity)
        if number == 0:
            incident_close(incident=incident, actor=actor, learning_flow="run")
        elif number == 1:
            incident_close(incident=incident, actor=actor, learning_flow="opt_out", opt_out_reason="=1+1 no time")
    if request.param == "stand-ins":
        request.getfixturevalue("fake_panels")
    return request.param


@pytest.fixture
def as_viewer(acme, viewer, signed_in):
    return signed_in(viewer, acme)


def _built(org, query: str = ""):
    """{(panel, chart id): chart} as the page builds them for this query."""
    now = timezone.now()
    filters = insight_filters_parse(org, QueryDict(query), today=org_today(org, now))
    return {(slug, chart.id): chart for slug, build in PANELS.items()
            for chart in build(org, filters, now=now).charts}


class _Tables(HTMLParser):
    """Each chart figure's table: {figure id: [[(cell text, link or None), …] per row]}, and its CSV link."""

    def __init__(self):
        super().__init__()
        self.tables, self.csv_links, self.figure, self.in_body, self.row, self.cell, self.link = {}, {}, None, False, None, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure":
            self.figure = attrs["id"]
        elif tag == "tbody":
            self.in_body = True
            self.tables[self.figure] = []
        elif tag == "tr" and self.in_body:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell, self.link = "", None
        elif tag == "a" and attrs.get("data-testid") == "chart-csv":
            self.csv_links[self.figure] = attrs["href"]
        elif tag == "a" and self.cell is not None:
            self.link = attrs["href"]

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row.append((self.cell, self.link))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[self.figure].append(self.row)
            self.row = None
        elif tag == "tbody":
            self.in_body = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def _tables(response):
    parser = _Tables()
    parser.feed(response.content.decode())
    return parser


# --- Who sees it ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "responder", "viewer"])
def test_every_member_sees_the_page_viewers_included(who, request, acme, signed_in, panels):
    client = signed_in(request.getfixturevalue(who), acme)
    response = client.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r'<a href="/acme/insights/" class="active">Insights</a>', page)
    for title in ("Response", "Learning flow", "Tasks", "Follow-ups"):
        assert f">{title}</h2>" in page
    assert f"Weeks and months in {acme.time_zone}." in page
    charts = _built(acme)
    assert page.count('data-testid="chart"') == len(charts)


def test_someone_no_longer_a_member_gets_a_404_and_another_orgs_member_the_sign_in(
    acme, responder, outsider, globex, signed_in
):
    client = signed_in(responder, acme)
    assert client.get(PAGE).status_code == 200
    Membership.objects.filter(org=acme, user=responder).delete()
    assert client.get(PAGE).status_code == 404
    assert client.get("/acme/insights/response/declared_per_week.csv").status_code == 404

    theirs = signed_in(outsider, globex)
    for path in (PAGE, "/acme/insights/response/declared_per_week.csv"):
        response = theirs.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_signed_out_it_asks_to_sign_in(client, acme):
    for path in (PAGE, "/acme/insights/learning/opt_out_reasons.csv?range=30d"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")


def test_it_only_reads(as_viewer):
    assert as_viewer.post(PAGE).status_code == 405
    assert as_viewer.post("/acme/insights/response/declared_per_week.csv").status_code == 405


# --- Filters -------------------------------------------------------------------------------------


def test_the_filters_come_back_as_asked_and_reach_every_link(acme, as_viewer, fake_panels):  # noqa: F811
    incident_type = IncidentType.objects.filter(org=acme).first()
    severity = Severity.objects.filter(org=acme).order_by("rank").last()
    response = as_viewer.get(PAGE, {"range": "365d", "incident_type": str(incident_type.public_id),
                                    "severity": str(severity.public_id)})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<option value="365d" selected>Last 365 days</option>' in page
    assert f'name="incident_type" value="{incident_type.public_id}" checked' in page
    assert f'name="severity" value="{severity.public_id}" checked' in page
    assert 'name="from" id="id_from" value=""' in page  # a preset, not dates
    tables = _tables(response)
    assert tables.csv_links and all(
        link.endswith(f"?range=365d&incident_type={incident_type.public_id}&severity={severity.public_id}")
        for link in tables.csv_links.values())
    bar_links = [link for rows in tables.tables.values() for row in rows for _text, link in row if link]
    assert bar_links and all(f"incident_type={incident_type.public_id}" in link for link in bar_links)

    response = as_viewer.get(PAGE, {"from": "2026-01-05", "to": "2026-02-01"})
    page = response.content.decode()
    assert response.status_code == 200
    assert '<option value="custom" selected>Custom dates</option>' in page
    assert 'value="2026-01-05"' in page and 'value="2026-02-01"' in page
    assert "5 Jan 2026 – 1 Feb 2026." in page
    assert all(link.endswith("?from=2026-01-05&to=2026-02-01") for link in _tables(response).csv_links.values())


@pytest.mark.parametrize("query, field, message", [
    ({"range": "week"}, "range", "Choose one of 90d, 30d, 365d"),
    ({"range": "custom"}, "range", "Choose one of 90d, 30d, 365d"),
    ({"range": "custom", "from": "2026-01-05"}, "to", "Give both"),
    ({"from": "2026-01-32", "to": "2026-02-01"}, "from", "is not a date"),
    ({"from": "2020-01-01", "to": "2026-02-01"}, "to", "A range can cover at most 1098 days."),
    ({"severity": "nonsense"}, "severity", "Unknown severity in this organization."),
])
def test_a_bad_filter_is_a_400_with_the_message_next_to_its_field_and_no_charts(
    query, field, message, as_viewer, fake_panels  # noqa: F811
):
    response = as_viewer.get(PAGE, query)
    assert response.status_code == 400
    page = response.content.decode()
    error = re.search(rf'<p class="error" id="error_{field}" data-testid="filter-error">([^<]*)</p>', page)
    assert error and message in error.group(1)
    assert f'aria-describedby="error_{field}"' in page
    assert page.count('data-testid="filter-error"') == 1
    assert "<figure" not in page and "Download CSV" not in page
    for value in query.values():
        if value not in ("week", "custom", "nonsense"):
            assert f'value="{value}"' in page  # what was typed is kept to be corrected


def test_another_orgs_incident_type_is_a_400(acme, globex, as_viewer):
    theirs = IncidentType.objects.filter(org=globex).first()
    response = as_viewer.get(PAGE, {"incident_type": str(theirs.public_id)})
    assert response.status_code == 400
    assert "Unknown incident type in this organization." in response.content.decode()


# --- The numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "range=30d", "from=2026-09-01&to=2026-12-31"])
def test_the_table_shows_the_numbers_the_api_returns_for_the_same_filters(query, acme, as_viewer, panels):
    page = as_viewer.get(f"{PAGE}?{query}")
    assert page.status_code == 200
    tables = _tables(page)
    _key, token = api_key_create(org=acme, name="insights", roles=[ApiKeyRole.VIEWER], created_by=None)
    shown = 0
    for slug in PANELS:
        body = as_viewer.get(f"/api/v2/insights/{slug}?{query}", HTTP_AUTHORIZATION=f"Bearer {token}").json()
        for chart in body["charts"]:
            figure = f"chart-{slug}-{chart['id']}"
            if not chart["rows"]:
                assert figure not in tables.tables
                continue
            expected = [[(value_text(row[c["key"]], c["unit"]),
                          row["link"] if c["unit"] in ("count", "hours", "percent") else None)
                         for c in chart["columns"]] for row in chart["rows"]]
            assert [[(text.strip(), link) for text, link in row] for row in tables.tables[figure]] == expected
            shown += len(expected)
    if panels == "stand-ins":
        assert shown > 20


def test_the_table_spells_out_dates_and_separates_thousands(as_viewer, fake_panels):  # noqa: F811
    response = as_viewer.get(PAGE, {"from": "2026-11-02", "to": "2026-11-29"})
    rows = _tables(response).tables["chart-response-declared_per_week"]
    assert rows[0][:2] == [("2 Nov 2026", None), ("Critical", None)]
    durations = [row for row in _tables(response).tables["chart-response-response_times"] if row[1][0] == "Duration"]
    assert durations[0][3][0] == "1,234.5"


def test_a_chart_with_no_rows_says_what_would_fill_it(as_viewer, fake_panels):  # noqa: F811
    response = as_viewer.get(PAGE)
    page = response.content.decode()
    figure = page[page.index('id="chart-learning-flow_outcomes"'):]
    figure = figure[:figure.index("</figure>")]
    assert '<p class="chart-empty" data-testid="chart-empty">No incident was closed in this range.</p>' in figure
    assert "<table" not in figure and "data-chart=" not in figure and "application/json" not in figure
    assert "Download CSV" in figure


# --- CSV -----------------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode())))


def _as_written(rows) -> list[list[str]]:
    return [["" if value is None else str(csv_cell(value)) for value in row] for row in rows]


def test_each_charts_csv_is_its_rows_for_the_pages_filters(acme, as_viewer, panels):
    response = as_viewer.get(PAGE, {"range": "30d"})
    links = _tables(response).csv_links
    built = _built(acme, "range=30d")
    assert len(links) == len(built)
    for (slug, chart_id), chart in built.items():
        download = as_viewer.get(links[f"chart-{slug}-{chart_id}"])
        assert download.status_code == 200
        assert download["Content-Type"] == "text/csv; charset=utf-8"
        period = insight_filters_parse(acme, QueryDict("range=30d"), today=org_today(acme, timezone.now())).period
        assert download["Content-Disposition"] == (
            f'attachment; filename="insights-{chart_id}-{period.first.isoformat()}-{period.last.isoformat()}.csv"')
        assert _csv(download) == _as_written(chart.csv_rows())


def test_the_csv_file_is_named_for_the_chart_and_its_days(as_viewer, fake_panels):  # noqa: F811
    response = as_viewer.get("/acme/insights/response/declared_per_week.csv", {"from": "2026-09-08", "to": "2026-12-06"})
    assert response["Content-Disposition"] == 'attachment; filename="insights-declared_per_week-2026-09-08-2026-12-06.csv"'


def test_people_text_in_a_csv_cannot_run_as_a_formula(as_viewer, fake_panels):  # noqa: F811
    rows = _csv(as_viewer.get("/acme/insights/learning/opt_out_reasons.csv"))
    assert rows[0] == ["Reason", "Incidents", "References", "Incidents list"]
    reasons = [row[0] for row in rows[1:]]
    assert reasons == ["'" + REASONS[0], "'+1+1", "'-2", "'@SUM(A1:A9)", REASONS[4], REASONS[5]]
    assert [row[1] for row in rows[1:]] == ["6", "5", "4", "3", "2", "1"]  # numbers stay numbers
    assert all(row[3].startswith("/acme/incidents/?") for row in rows[1:])


def test_csv_cell_keeps_numbers_and_quotes_every_formula_start():
    assert [csv_cell(v) for v in ("=1", "+1", "-1", "@a", "\tx", "\rx", "a=1", "", -2, 1.5, None)] == [
        "'=1", "'+1", "'-1", "'@a", "'\tx", "'\rx", "a=1", "", -2, 1.5, None]


def test_an_unknown_panel_or_chart_is_a_404_and_a_bad_filter_a_400(as_viewer, fake_panels):  # noqa: F811
    assert as_viewer.get("/acme/insights/velocity/declared_per_week.csv").status_code == 404
    assert as_viewer.get("/acme/insights/response/opt_out_reasons.csv").status_code == 404
    assert as_viewer.get("/acme/insights/response/nothing.csv").status_code == 404
    response = as_viewer.get("/acme/insights/response/declared_per_week.csv", {"range": "week"})
    assert response.status_code == 400
    assert response.content.decode().startswith("range: Choose one of")
