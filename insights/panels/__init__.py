"""The Insights panels, one module each; every module's ``panel(org, filters, *, now)`` returns a :class:`~insights.charts.Panel`.

Each chart is read with a fixed number of queries whatever the org's size
(Postgres aggregates over the range; docs/insights.md has each definition)."""

from __future__ import annotations

from insights.panels import follow_ups, learning, response, tasks

#: slug → builder, in the page's order. Each panel's title is its ``Panel.title``.
PANELS = {
    "response": response.panel,
    "learning": learning.panel,
    "tasks": tasks.panel,
    "follow_ups": follow_ups.panel,
}
