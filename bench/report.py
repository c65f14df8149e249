"""Budgets (issue 7) checked against one run's results, and the report as Markdown and JSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

API_LIST_SHARE_OF_CEILING = 0.5
DEEP_PAGE_P50_FACTOR = 1.25
DASHBOARD_SHARE_OF_CEILING = 0.3
SLACK_ACK_P99_MS = 300
FLOW_STATUS_P95_MS = 1000
FLOW_SLACK_P95_MS = 2000
#: The reminder sweep runs every 60 s on the beat (docs/performance.md, "The reminder sweep").
SWEEP_STEADY_P95_MS = 2000
SWEEP_FIRST_S = 60
#: Insights (issue 19): the page and each API panel at the default range, p95 under the scenarios' load.
INSIGHTS_P95_MS = 300
#: Live pages (issue 21): a poll of an open page that has not changed is a 304 without a render; it
#: must cost well under a render (the dashboard pages' 0.3 × ceiling), or open tabs eat the server.
LIVE_UNCHANGED_SHARE_OF_CEILING = 0.5
LIVE_UNCHANGED_SCENARIOS = ("live_incident_unchanged", "live_incidents_unchanged")
DASHBOARD_SCENARIOS = ("dashboard_incidents", "dashboard_incident_200_events", "dashboard_my_tasks",
                       "dashboard_post_incident")


@dataclass
class Budget:
    name: str
    limit: str
    measured: str
    held: bool
    #: Timing budgets hold on a quiet machine at full scale; correctness ones anywhere.
    timing: bool = True


def check_budgets(results: dict) -> list[Budget]:
    http = {row["name"]: row for row in results["http"]}
    ceiling = results["ceiling_requests_per_s"]
    budgets = []

    def share(name: str, minimum: float) -> None:
        ratio = http[name]["requests_per_s"] / ceiling  # the run's best ceiling: the strictest reference
        budgets.append(Budget(f"{name} throughput", f"≥ {minimum} × ceiling", f"{ratio:.2f} × ceiling", ratio >= minimum))

    share("api_incidents_page_1", API_LIST_SHARE_OF_CEILING)
    # Measured alternating with page 1 (``scenarios.paired_p50``) when the run did so.
    deep_row, first_row = http["api_incidents_deep_page"], http["api_incidents_page_1"]
    deep = deep_row.get("paired_p50_ms", deep_row["p50_ms"])
    first = first_row.get("paired_p50_ms", first_row["p50_ms"])
    budgets.append(Budget("deep page p50", f"≤ {DEEP_PAGE_P50_FACTOR} × page-1 p50 ({first:.1f} ms)",
                          f"{deep:.1f} ms ({deep / first:.2f} ×)", deep <= DEEP_PAGE_P50_FACTOR * first))
    for name in DASHBOARD_SCENARIOS:
        share(name, DASHBOARD_SHARE_OF_CEILING)
    budgets += _live_budgets(http, ceiling)
    budgets += _insights_budgets(results["http"])
    for row in results["http"]:
        if row["queries_small_org"] is not None:
            budgets.append(Budget(
                f"{row['name']} queries", "same on 100k incidents as on a small org",
                f"{row['queries']} vs {row['queries_small_org']}", row["queries"] == row["queries_small_org"],
                timing=False,
            ))
    slack = results["slack_ack"]
    budgets.append(Budget("Slack ack p99 (Web API 2 s)", f"≤ {SLACK_ACK_P99_MS} ms", f"{slack['p99_ms']:.0f} ms",
                          slack["p99_ms"] <= SLACK_ACK_P99_MS))
    flow = results["learning_flow"]
    budgets.append(Budget("flow: next status p95", f"≤ {FLOW_STATUS_P95_MS} ms",
                          f"{flow['next_status']['p95_ms']:.0f} ms", flow["next_status"]["p95_ms"] <= FLOW_STATUS_P95_MS))
    budgets.append(Budget("flow: Slack message p95", f"≤ {FLOW_SLACK_P95_MS} ms",
                          f"{flow['slack_message']['p95_ms']:.0f} ms", flow["slack_message"]["p95_ms"] <= FLOW_SLACK_P95_MS))
    budgets += _sweep_budgets(results["reminder_sweep"])
    burst = results["burst"]
    budgets.append(Budget("burst: lost task messages", "0", str(burst["lost"]), burst["lost"] == 0 and burst["delivered"],
                          timing=False))
    budgets.append(Budget("burst: every outbox message sent", "none left pending", str(burst["outbox_states"]),
                          burst["outbox_all_sent"], timing=False))
    budgets.append(Budget("burst: duplicate task messages", "0", str(burst["duplicates"]), burst["duplicates"] == 0,
                          timing=False))
    budgets.append(Budget("burst: per-channel rate", "≤ 1 message/s per channel",
                          f"{burst['rate_violations']} violations", burst["rate_violations"] == 0, timing=False))
    return budgets


def _live_budgets(http: dict[str, dict], ceiling: float) -> list[Budget]:
    budgets = []
    for name in LIVE_UNCHANGED_SCENARIOS:
        ratio = http[name]["requests_per_s"] / ceiling
        budgets.append(Budget(f"{name} throughput", f"≥ {LIVE_UNCHANGED_SHARE_OF_CEILING} × ceiling",
                              f"{ratio:.2f} × ceiling", ratio >= LIVE_UNCHANGED_SHARE_OF_CEILING))
    return budgets


def _insights_budgets(http: list[dict]) -> list[Budget]:
    return [
        Budget(f"{row['name']} p95", f"≤ {INSIGHTS_P95_MS} ms ({row.get('connections', 1)} at a time)",
               f"{row['p95_ms']:.0f} ms", row["p95_ms"] <= INSIGHTS_P95_MS)
        for row in http if row["name"] == "dashboard_insights" or row["name"].startswith("api_insights_")
    ]


def _sweep_budgets(sweep: dict) -> list[Budget]:
    first, steady, small = sweep["first"], sweep["steady"], sweep["small_org"]
    steady_batches = max(run["batches"] for run in steady["runs"])
    return [
        Budget("reminder sweep: steady-state p95", f"≤ {SWEEP_STEADY_P95_MS} ms", f"{steady['p95_ms']:.0f} ms",
               steady["p95_ms"] <= SWEEP_STEADY_P95_MS),
        Budget("reminder sweep: first sweep over the backlog", f"≤ {SWEEP_FIRST_S} s", f"{first['seconds']:.1f} s",
               first["seconds"] <= SWEEP_FIRST_S),
        # A batch's own queries (the escalations' timeline events counted apart): a full batch of
        # the whole backlog costs what the one batch of a small org's items costs.
        Budget("reminder sweep: queries per batch", "same on 100k incidents as on a small org",
               f"{first['queries_per_full_batch_max']} vs {small['first']['queries_per_batch_max']}",
               first["queries_per_full_batch_max"] == small["first"]["queries_per_batch_max"], timing=False),
        # A sweep with nothing new due reads nothing: one empty read per kind, whatever is overdue.
        Budget("reminder sweep: steady-state batches", "same on 100k incidents as on a small org",
               f"{steady_batches} vs {small['steady']['batches']}", steady_batches == small["steady"]["batches"],
               timing=False),
    ]


def _sweep_markdown(sweep: dict) -> list[str]:
    first, steady, small = sweep["first"], sweep["steady"], sweep["small_org"]
    backlog = sweep["backlog"]
    runs = steady["runs"]
    return [
        "",
        f"Reminder sweep (batches of {sweep['batch_size']}): outstanding with a due date "
        f"{backlog['task']['with_due_date']} tasks ({backlog['task']['overdue']} overdue) and "
        f"{backlog['follow_up']['with_due_date']} follow-ups ({backlog['follow_up']['overdue']} overdue).",
        "",
        "| Sweep | seconds | items read | reminders | escalations | batches | queries | per batch (max) | "
        "escalation queries |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        *(f"| {label} | {row['seconds']:.2f} | {row['items']} | {row['reminders']} | {row['escalations']} | "
          f"{row['batches']} | {row['queries']} | {row['queries_per_batch_max']} | {row['escalation_queries']} |"
          for label, row in ((f"small org `{small['slug']}`, first", small["first"]),
                             (f"small org `{small['slug']}`, steady state", small["steady"]),
                             ("first, whole backlog", first))),
        f"| steady state, {len(runs)} runs (p50 {steady['p50_ms']:.0f} ms, p95 {steady['p95_ms']:.0f} ms, "
        f"max {steady['max_ms']:.0f} ms) | {steady['p50_ms'] / 1000:.2f} | {max(r['items'] for r in runs)} | "
        f"{sum(r['reminders'] for r in runs)} | {sum(r['escalations'] for r in runs)} | "
        f"{max(r['batches'] for r in runs)} | {max(r['queries'] for r in runs)} | "
        f"{max(r['queries_per_batch_max'] for r in runs)} | {sum(r['escalation_queries'] for r in runs)} |",
    ]


def markdown(results: dict, budgets: list[Budget]) -> str:
    ceiling = results["ceiling_requests_per_s"]
    lines = [
        f"### Benchmark run {results['started_at']} (scale `{results['scale']}`)",
        "",
        f"Machine: {results['machine']}",
        "",
        f"Data: {results['data']}",
        "",
        f"Ceiling runs (req/s, in order, one before the first scenario and one after each): "
        f"{', '.join(f'{value:.0f}' for value in results.get('ceiling_runs', [ceiling]))}. "
        f"Budgets use the best ({ceiling:.0f}); \"× nearby\" is the ratio to the higher of the two runs around "
        f"the scenario.",
        "",
        "| Scenario | req/s | × ceiling | × nearby | p50 ms | p95 ms | p99 ms | SQL queries (small org) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in results["http"]:
        small = "" if row["queries_small_org"] is None else f" ({row['queries_small_org']})"
        nearby = row.get("ceiling_requests_per_s", ceiling)
        lines.append(
            f"| {row['name']} | {row['requests_per_s']:.0f} | {row['requests_per_s'] / ceiling:.2f} | "
            f"{row['requests_per_s'] / nearby:.2f} | "
            f"{row['p50_ms']:.1f} | {row['p95_ms']:.1f} | {row['p99_ms']:.1f} | {row['queries']}{small} |"
        )
    slack, flow, burst = results["slack_ack"], results["learning_flow"], results["burst"]
    lines += [
        "",
        "| Scenario | count | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|",
        f"| Slack `/inc status` ack (Web API answers after {slack['web_api_delay_s']} s) | {slack['count']} | "
        f"{slack['p50_ms']:.0f} | {slack['p95_ms']:.0f} | {slack['p99_ms']:.0f} | {slack['max_ms']:.0f} |",
    ]
    for label, key in (("Flow: task addressed → next status", "next_status"),
                       ("Flow: task addressed → Slack task message", "slack_message")):
        row = flow[key]
        lines.append(f"| {label} | {row['count']} | {row['p50_ms']:.0f} | {row['p95_ms']:.0f} | {row['p99_ms']:.0f} | "
                     f"{row['max_ms']:.0f} |")
    lines += [
        "",
        f"Burst: {burst['incidents']} incidents closed into the flow in {burst['closed_in_s']} s; every task "
        f"message delivered {burst['all_delivered_in_s']} s after the first close, every queued message "
        f"{burst['outbox_all_sent_in_s']} s after it; lost {burst['lost']}, "
        f"duplicates {burst['duplicates']}, per-channel rate violations {burst['rate_violations']}; "
        f"outbox rows by state {burst['outbox_states']}.",
        *_sweep_markdown(results["reminder_sweep"]),
        "",
        "| Budget | Limit | Measured | Held |",
        "|---|---|---|---|",
    ]
    lines += [f"| {b.name} | {b.limit} | {b.measured} | {'yes' if b.held else '**NO**'} |" for b in budgets]
    if results.get("enforced") == "correctness":
        lines += ["", "Scale `smoke` enforces the correctness budgets only; timing budgets are printed for information."]
    return "\n".join(lines) + "\n"


def write(results: dict, budgets: list[Budget], directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{results['scale']}-latest"
    md_path, json_path = directory / f"{stem}.md", directory / f"{stem}.json"
    md_path.write_text(markdown(results, budgets))
    payload = {**results, "budgets": [b.__dict__ for b in budgets]}
    json_path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    return md_path, json_path
