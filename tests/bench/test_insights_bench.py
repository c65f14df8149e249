"""The bench measures every Insights panel the API serves, and holds each to its budget."""

from bench import report, run
from insights.panels import PANELS


def test_the_bench_covers_every_insights_panel():
    assert run.INSIGHTS_PANELS == tuple(PANELS)


def _http_row(name: str, p95_ms: float) -> dict:
    return {"name": name, "requests_per_s": 100.0, "p50_ms": 1.0, "p95_ms": p95_ms, "p99_ms": p95_ms,
            "queries": 5, "queries_small_org": 5}


def test_an_insights_panel_slower_than_300_ms_at_p95_misses_its_budget():
    rows = [_http_row(name, 10.0) for name in ("api_incidents_page_1", "api_incidents_deep_page",
                                               *report.DASHBOARD_SCENARIOS)]
    rows += [_http_row("dashboard_insights", 299.0), _http_row("api_insights_tasks", 301.0)]
    budgets = {b.name: b for b in report._insights_budgets(rows)}
    assert budgets["dashboard_insights p95"].held
    assert not budgets["api_insights_tasks p95"].held
    assert budgets["api_insights_tasks p95"].measured == "301 ms"
