"""Insights on the demo data, in Chromium, as a manager opening it before a
monthly review: every chart of every panel is drawn, bar for bar, with the
numbers the API returns for the same filters; a bar opens exactly the
incidents it counts; a chart's CSV downloads with the API's numbers."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command
from django.test import Client
from playwright.sync_api import expect

from insights.charts import Unit
from insights.panels import PANELS
from insights.presentation import value_text
from orgs.models import ApiKeyRole, Organization
from orgs.services import api_key_create
from tests.browser.helpers import fill_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "incidentio-demo"


def _api_panels(query: str) -> dict[str, dict]:
    acme = Organization.objects.get(slug="acme")
    _key, token = api_key_create(org=acme, name="insights test", roles=list(ApiKeyRole.values), created_by=None)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    panels = {}
    for slug in PANELS:
        response = client.get(f"/api/v2/insights/{slug}?{query}")
        assert response.status_code == 200, response.content
        panels[slug] = response.json()
    return panels


def _sign_in(page, path: str) -> None:
    page.goto(path)
    fill_sign_in(page, "alice@example.com", DEMO_PASSWORD)
    page.wait_for_url(lambda url: url.endswith(path))


def _bar(page, figure: str, link: str):
    """The bar of a chart that links to ``link``."""
    bars = page.locator(f"{figure} svg a")
    hrefs = bars.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return bars.nth(hrefs.index(link))


def _listed(page) -> int:
    """How many incidents the incidents list shows (one page of up to 25)."""
    return page.locator("table tbody tr:not(:has(td.empty))").count()


@pytest.mark.parametrize("query", ["range=90d", "range=365d"])
def test_every_demo_chart_shows_the_apis_numbers_and_a_bar_opens_its_incidents(browser_context, query):
    call_command("seed_demo")
    api = _api_panels(query)
    page = browser_context.new_page()
    page.set_viewport_size({"width": 1440, "height": 1000})
    problems = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    _sign_in(page, f"/acme/insights/?{query}")

    for slug, panel in api.items():
        for chart in panel["charts"]:
            assert chart["rows"], f"the demo leaves {slug}/{chart['id']} empty"
            figure = page.locator(f"#chart-{slug}-{chart['id']}")
            bars = figure.locator("svg a")
            expect(bars).to_have_count(len(chart["rows"]))
            drawn = bars.evaluate_all("links => links.map(a => [a.getAttribute('href'), a.getAttribute('aria-label')])")
            unit = Unit(next(c["unit"] for c in chart["columns"] if c["key"] == chart["y"]))
            assert sorted(href for href, _label in drawn) == sorted(row["link"] for row in chart["rows"])
            # Each row is one bar: its link, and a name saying its series and value ("… · Major: 3").
            unmatched = list(drawn)
            for row in chart["rows"]:
                said = f"{row[chart['series']]}: " if chart["series"] else ": "
                said += value_text(row[chart["y"]], unit)
                bar = next((b for b in unmatched if b[0] == row["link"] and said in b[1]), None)
                assert bar is not None, (chart["id"], row, unmatched)
                unmatched.remove(bar)
    assert problems == [], "\n".join(problems)

    # A week's bar of incidents declared opens the incidents list showing exactly that many.
    weeks = api["response"]["charts"][0]
    assert weeks["id"] == "declared_per_week"
    busiest = max((row for row in weeks["rows"] if row["incidents"] <= 25), key=lambda row: row["incidents"])
    assert busiest["incidents"] >= 2
    _bar(page, "#chart-response-declared_per_week", busiest["link"]).click()
    page.wait_for_url(lambda url: url.endswith(busiest["link"]))
    assert _listed(page) == busiest["incidents"]

    # The opt-out reason used most: its bar lists the incidents that gave it.
    page.go_back()
    reasons = next(c for c in api["learning"]["charts"] if c["id"] == "opt_out_reasons")
    top = reasons["rows"][0]
    page.locator("#chart-learning-opt_out_reasons svg a").first.click()
    page.wait_for_url(lambda url: url.endswith(top["link"]))
    assert _listed(page) == top["incidents"]

    # The CSV of the follow-ups on time: the API's rows, column for column.
    page.go_back()
    on_time = next(c for c in api["follow_ups"]["charts"] if c["id"] == "follow_ups_on_time")
    with page.expect_download() as download:
        page.locator("#chart-follow_ups-follow_ups_on_time").get_by_role("link", name="Download CSV").click()
    with open(download.value.path(), encoding="utf-8", newline="") as written:
        table = list(csv.reader(io.StringIO(written.read())))
    assert table[0] == [c["label"] for c in on_time["columns"]] + ["Incidents list"]
    assert [row[-1] for row in table[1:]] == [row["link"] for row in on_time["rows"]]
    assert [row[2] for row in table[1:]] == [str(row["follow_ups"]) for row in on_time["rows"]]
