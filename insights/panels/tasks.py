"""The tasks panel (docs/insights.md). Being written: returns its charts without rows."""

from __future__ import annotations

from insights.charts import Panel


def panel(org, filters, *, now) -> Panel:
    return Panel(slug="tasks", title="tasks", charts=[])
