"""The Insights page in Chromium: every chart is drawn with one link per row,
without a console error or a Content-Security-Policy violation; a bar opens its
incidents; a chart's CSV downloads; on a 390 px phone nothing scrolls sideways.

The charts' data comes from stand-in panels (tests/insights/fake_panels.py)
with every kind of chart, so the drawing is tested whatever the real panels
count on a given day."""

from __future__ import annotations

import re

import pytest
from django.http import QueryDict
from django.utils import timezone
from playwright.sync_api import expect

from insights.charts import Unit
from insights.filters import insight_filters_parse, org_today
from insights.panels import PANELS
from insights.presentation import value_text
from orgs.models import Organization
from tests.browser.test_incident_browser import acme_responder, sign_in  # noqa: F401 (fixture)
from tests.insights.fake_panels import fake_panels  # noqa: F401 (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _watch(page) -> list[str]:
    """Console errors (a CSP violation is one) and uncaught exceptions, as they happen."""
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    return problems


def _charts_with_rows():
    """(figure id, chart) of every chart the page draws, from the panels the page reads."""
    acme = Organization.objects.get(slug="acme")
    now = timezone.now()
    filters = insight_filters_parse(acme, QueryDict(), today=org_today(acme, now))
    return [(f"chart-{slug}-{chart.id}", chart) for slug, build in PANELS.items()
            for chart in build(acme, filters, now=now).charts if chart.rows]


def test_every_chart_draws_one_link_per_row_and_a_bar_opens_its_incidents(
    acme_responder, fake_panels, browser_context, artifacts_dir  # noqa: F811
):
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1280, "height": 900})
    problems = _watch(page)
    sign_in(page, "/acme/insights/")
    page.wait_for_url("**/acme/insights/")
    expect(page.get_by_role("link", name="Insights")).to_have_class("active")

    charts = _charts_with_rows()
    assert len(charts) >= 3
    for dom_id, chart in charts:
        figure = page.locator(f"#{dom_id}")
        links = figure.locator("svg.insights-plot a")
        expect(links).to_have_count(len(chart.rows))
        assert links.evaluate_all("links => links.map(a => a.getAttribute('href'))") == [
            row["link"] for row in chart.rows]
        legend = figure.locator(".chart-legend-items")
        for name in {str(row[chart.series]) for row in chart.rows} if chart.series else []:
            expect(legend).to_contain_text(name)
    page.screenshot(path=str(artifacts_dir / "insights_1280.png"), full_page=True)

    declared_chart = dict(charts)["chart-response-declared_per_week"]
    first = next(row for row in declared_chart.rows if row["incidents"])
    declared = page.locator("#chart-response-declared_per_week")
    bar = declared.get_by_role("link", name=f"{value_text(first['week'], Unit.DATE)} · {first['severity']}: "
                                            f"{first['incidents']}", exact=True)
    expect(bar).to_have_count(1)
    # The values are written on the chart, not only in colours and tooltips: the week's total above its bar.
    total = sum(row["incidents"] for row in declared_chart.rows if row["week"] == first["week"])
    expect(declared.locator("svg text", has_text=re.compile(rf"^{total}$")).first).to_be_visible()
    assert problems == [], "\n".join(problems)

    # Reachable with the keyboard.
    bar.focus()
    assert bar.evaluate("a => document.activeElement === a")
    page.keyboard.press("Enter")
    page.wait_for_url(first["link"])

    page.go_back()
    page.wait_for_url("**/acme/insights/")
    expect(page.locator("#chart-learning-opt_out_reasons svg a")).to_have_count(6)
    page.locator("#chart-learning-opt_out_reasons svg a").nth(1).click()
    page.wait_for_url(lambda url: "/acme/incidents/?closed=" in url and "&opt_out_reason=%2B1%2B1&" in url)


def test_a_charts_csv_downloads(acme_responder, fake_panels, browser_context):  # noqa: F811
    page = browser_context.new_page()
    problems = _watch(page)
    sign_in(page, "/acme/insights/?range=30d")
    page.wait_for_url("**/acme/insights/?range=30d")
    with page.expect_download() as download:
        page.locator("#chart-learning-opt_out_reasons").get_by_role("link", name="Download CSV").click()
    assert problems == [], "\n".join(problems)
    assert download.value.suggested_filename.startswith("insights-opt_out_reasons-")
    text = open(download.value.path(), encoding="utf-8").read()
    assert text.splitlines()[0] == "Reason,Incidents,References,Incidents list"
    assert "'=HYPERLINK" in text


@pytest.mark.parametrize("width", [390, 1440])
def test_the_page_fits_the_screen_and_the_charts_follow_their_width(
    width, acme_responder, fake_panels, browser_context, artifacts_dir  # noqa: F811
):
    page = browser_context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    problems = _watch(page)
    sign_in(page, "/acme/insights/")
    page.wait_for_url("**/acme/insights/")
    charts = dict(_charts_with_rows())
    expect(page.locator("#chart-response-declared_per_week svg a")).to_have_count(
        len(charts["chart-response-declared_per_week"].rows))
    page.locator("details.chart-numbers").first.locator("summary").click()  # the table, opened, fits too
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for figure in page.locator("figure.chart:has(svg)").all():
        box, svg = figure.bounding_box(), figure.locator("svg.insights-plot").bounding_box()
        assert 0 <= box["x"] and box["x"] + box["width"] <= width
        assert box["x"] <= svg["x"] and svg["x"] + svg["width"] <= box["x"] + box["width"]
    # Every word of every chart (names, values, ticks) is inside its chart, none cut off at an edge.
    assert page.evaluate("""Array.from(document.querySelectorAll("svg.insights-plot text")).filter((text) => {
        const chart = text.ownerSVGElement.getBoundingClientRect(), box = text.getBoundingClientRect();
        return box.left < chart.left - 0.5 || box.right > chart.right + 0.5; }).length""") == 0
    page.screenshot(path=str(artifacts_dir / f"insights_{width}.png"), full_page=True)

    # Turned or resized: drawn again at the new width.
    chart = page.locator("#chart-response-response_times svg.insights-plot")
    before = chart.get_attribute("width")
    page.set_viewport_size({"width": 700 if width < 700 else 900, "height": 900})
    expect(chart).not_to_have_attribute("width", before)
    expect(page.locator("#chart-response-response_times svg a")).to_have_count(
        len(charts["chart-response-response_times"].rows))
    assert problems == [], "\n".join(problems)
