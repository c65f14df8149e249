"""The bench measures the live pages' polls (docs/performance.md, "Live pages") and holds the
unchanged ones, 304s without a render, to their budget."""

from bench import report


def test_an_unchanged_poll_below_half_the_ceiling_misses_its_budget():
    http = {
        "live_incident_unchanged": {"requests_per_s": 260.0},
        "live_incidents_unchanged": {"requests_per_s": 240.0},
    }
    budgets = {b.name: b for b in report._live_budgets(http, ceiling=500.0)}
    assert budgets["live_incident_unchanged throughput"].held
    assert not budgets["live_incidents_unchanged throughput"].held
    assert budgets["live_incidents_unchanged throughput"].measured == "0.48 × ceiling"
