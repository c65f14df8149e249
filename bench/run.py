"""``make bench`` / ``make bench-smoke``: generate the data, start the production
stack (gunicorn, a Celery worker on Redis, Postgres, the fake Slack), run the
seven scenarios, check the budgets, write ``bench/results/<scale>-latest.{md,json}``.

    python -m bench.run --scale full            # 100k incidents; see docs/performance.md
    python -m bench.run --scale smoke           # about a minute; CI runs it

Exits 1 when a budget is missed, 2 when the run itself failed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import redis

from bench import clients, report, scenarios
from tests.live_stack import BENCH_FIELD_ENCRYPTION_KEY, LiveStack
from tests.slack.fake_slack import FakeSlack

RESULTS = Path(__file__).with_name("results")
SLACK_SECRET = "bench-signing-secret-0123456789"


@dataclass
class Profile:
    """How long and how hard each scenario runs, per scale."""

    seconds: float
    warmup_seconds: float
    connections: int
    slack_commands: int
    slack_rate: float
    flow_rate: float
    burst_rate: float
    #: Steady-state reminder sweeps timed after the first one (scenario 7).
    sweep_steady_runs: int = 20
    flow_timeout: float = 60
    burst_timeout: float = 600
    slack_delay: float = 2.0


PROFILES = {
    "full": Profile(seconds=15, warmup_seconds=3, connections=4, slack_commands=200, slack_rate=10,
                    flow_rate=10, burst_rate=100),
    "smoke": Profile(seconds=3, warmup_seconds=1, connections=4, slack_commands=30, slack_rate=10,
                     flow_rate=10, burst_rate=50, burst_timeout=120, sweep_steady_runs=5),
}


@dataclass
class Context:
    base_url: str
    manifest: dict
    fake_slack: FakeSlack
    db: object
    profile: Profile
    api_headers: dict = field(default_factory=dict)
    slack_secret: str = SLACK_SECRET

    def __getattr__(self, name):  # the profile's knobs read as ctx.seconds, ctx.flow_rate, …
        return getattr(self.profile, name)


def with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                         if line.startswith("MemTotal")))
    return f"{os.cpu_count()} cores ({cpu}), {memory_kb / 1024 / 1024:.0f} GiB, Python {platform.python_version()}"


def generate(database_url: str, scale: str, manifest_path: Path) -> dict:
    print(f"== generating {scale} data into {urlsplit(database_url).path[1:]}", flush=True)
    started = time.monotonic()
    # The stack's key: it must decrypt the Slack bot token the generator stores.
    env = {**os.environ, "FIELD_ENCRYPTION_KEYS": BENCH_FIELD_ENCRYPTION_KEY}
    subprocess.run([sys.executable, "-m", "bench.generate", "--database-url", database_url, "--scale", scale,
                    "--manifest", str(manifest_path)], check=True, env=env)
    print(f"   done in {time.monotonic() - started:.0f} s", flush=True)
    return json.loads(manifest_path.read_text())


def prepared(stack: LiveStack, manifest: dict) -> dict:
    args = (manifest["org"]["slug"], manifest["dashboard"]["member_email"], manifest["timeline_incident"]["incident_id"])
    output = stack.manage("shell", "-c", f"from bench.prepare import main; main{args!r}")
    line = next(x for x in output.splitlines() if x.startswith("PREPARED "))
    return json.loads(line.removeprefix("PREPARED "))


#: The Insights API's panels (``insights.panels.PANELS``; the bench runs outside Django).
INSIGHTS_PANELS = ("response", "learning", "tasks", "follow_ups")
#: Insights' budget is an answer time (p95 ≤ 300 ms), not a share of the
#: ceiling: one person opening the page, or one script reading a panel, at a
#: time. Under the other scenarios' 4 connections on 2 workers a request
#: also waits for the one ahead of it (docs/performance.md, "Insights").
INSIGHTS_CONNECTIONS = 1


#: The live pages' poll scenarios end with one of these.
LIVE_UNCHANGED, LIVE_CHANGED = "_unchanged", "_changed"


def live_rows(pages: list[tuple]) -> list[tuple]:
    """``live_<page>_unchanged`` and ``live_<page>_changed`` rows for each
    ``(page, path, headers, small org's path, its headers)``; the poll's
    headers are added right before the scenario runs (:func:`live_headers`)."""
    return [(f"live_{page}{suffix}", path, headers, compare_path, compare_headers)
            for page, path, headers, compare_path, compare_headers in pages
            for suffix in (LIVE_UNCHANGED, LIVE_CHANGED)]


def live_headers(ctx: Context, name: str, path: str, headers: dict) -> dict:
    """A live scenario's poll headers: the page's version as it is now (unchanged), or one it no
    longer has (changed); other scenarios' headers as they are."""
    if not name.startswith("live_"):
        return headers
    return clients.live_poll_headers(ctx.base_url + path, headers, changed=name.endswith(LIVE_CHANGED))


def http_scenarios(ctx: Context, prep: dict, only: frozenset[str] = frozenset()) -> list[dict]:
    m, small = ctx.manifest, prep["small"]
    api, small_api = ctx.api_headers, clients.api_headers(small["api_key"])
    password, big = m["password"], m["org"]["slug"]
    member = {"Cookie": clients.sign_in(ctx.base_url, email=m["dashboard"]["member_email"], password=password,
                                        org_slug=big)}
    assignee = {"Cookie": clients.sign_in(ctx.base_url, email=m["assignee"]["email"], password=password, org_slug=big)}
    small_member = {"Cookie": clients.sign_in(ctx.base_url, email=small["member_email"], password=password,
                                              org_slug=small["slug"])}
    little = small["slug"]
    rows = [
        ("api_incidents_page_1", "/api/v2/incidents?page_size=25", api, "/api/v2/incidents?page_size=25", small_api),
        ("api_incidents_deep_page", f"/api/v2/incidents?page_size=25&after={prep['deep_after']}", api,
         f"/api/v2/incidents?page_size=25&after={small['deep_after']}", small_api),
        ("api_learning_tasks_assignee", f"/api/v2/learning_tasks?page_size=25&assignee_id={m['assignee']['member_id']}", api,
         f"/api/v2/learning_tasks?page_size=25&assignee_id={small['member_id']}", small_api),
        ("api_incident", f"/api/v2/incidents/{m['timeline_incident']['incident_id']}", api,
         f"/api/v2/incidents/{small['incident_id']}", small_api),
        ("dashboard_incidents", f"/{big}/incidents/", member, f"/{little}/incidents/", small_member),
        ("dashboard_incident_200_events", f"/{big}/incidents/{m['timeline_incident']['incident_id']}/", member,
         f"/{little}/incidents/{small['incident_id']}/", small_member),
        ("dashboard_my_tasks", f"/{big}/tasks/", assignee, f"/{little}/tasks/", small_member),
        ("dashboard_post_incident", f"/{big}/post-incident/", member, f"/{little}/post-incident/", small_member),
        # Insights at its default range (the last 90 days): the page draws every panel's charts.
        ("dashboard_insights", f"/{big}/insights/", member, f"/{little}/insights/", small_member),
        *((f"api_insights_{panel}", f"/api/v2/insights/{panel}", api, f"/api/v2/insights/{panel}", small_api)
          for panel in INSIGHTS_PANELS),
        # An open incident page and incidents list asking whether they changed (static/js/live.js):
        # unchanged, a 304 with no render; changed, the page rendered for the poll.
        *live_rows([
            ("incident", f"/{big}/incidents/{m['timeline_incident']['incident_id']}/", member,
             f"/{little}/incidents/{small['incident_id']}/", small_member),
            ("incidents", f"/{big}/incidents/", member, f"/{little}/incidents/", small_member),
        ]),
    ]
    if only:
        rows = [row for row in rows if row[0] in only]
        if missing := set(only) - {row[0] for row in rows}:
            raise SystemExit(f"--only: no such HTTP scenario: {', '.join(sorted(missing))}")
    # The ceiling brackets every scenario: measured right before it and again
    # after. The budgets hold against the run's best ceiling (the strictest
    # reference); the ratio to the higher of the two runs around a scenario is
    # reported beside it, to tell a slow page from a slow minute.
    results = []
    before = _ceiling(ctx, api, "ceiling")
    results.append(before)
    for name, path, headers, compare_path, compare_headers in rows:
        print(f"== {name}", flush=True)
        insights = name == "dashboard_insights" or name.startswith("api_insights_")
        row = scenarios.http_scenario(ctx, name, path, live_headers(ctx, name, path, headers),
                                      compare_path=compare_path,
                                      compare_headers=live_headers(ctx, name, compare_path, compare_headers),
                                      connections=INSIGHTS_CONNECTIONS if insights else None,
                                      status=304 if name.endswith(LIVE_UNCHANGED) else 200)
        after = _ceiling(ctx, api, f"ceiling_after_{name}")
        row["ceiling_requests_per_s"] = max(before["requests_per_s"], after["requests_per_s"])
        print(f"   {row['requests_per_s']:.0f} req/s ({row['requests_per_s'] / row['ceiling_requests_per_s']:.2f} × "
              f"the ceiling around it), p50 {row['p50_ms']:.1f} ms, {row['queries']} queries", flush=True)
        results += [row, after]
        before = after
    if only:
        return results
    # The deep page's budget compares two latencies: measured again, alternating.
    pair = scenarios.paired_p50(ctx, {"page_1": rows[0][1], "deep": rows[1][1]}, api)
    for row in results:
        if row["name"] in ("api_incidents_page_1", "api_incidents_deep_page"):
            row["paired_p50_ms"] = pair["page_1" if row["name"] == "api_incidents_page_1" else "deep"]
    print(f"== deep page vs page 1, alternating: p50 {pair['deep']:.1f} vs {pair['page_1']:.1f} ms", flush=True)
    return results


def reminder_sweep(stack: LiveStack, steady_runs: int) -> dict:
    """Scenario 7, in a process of its own with the stack's settings (``bench/sweep.py``).

    Last, with the Celery worker stopped: the sweep's delivery jobs are published
    to the stack's Redis on commit as in production, and nothing delivers them,
    so the measurement is the sweep's alone (no Slack, fake or real, is called)."""
    stack.stop("worker")
    output = stack.manage("shell", "-c", f"from bench.sweep import main; main({steady_runs})",
                          timeout=1800)
    line = next(x for x in output.splitlines() if x.startswith("SWEPT "))
    return json.loads(line.removeprefix("SWEPT "))


def _ceiling(ctx: Context, api: dict, name: str) -> dict:
    row = scenarios.http_scenario(ctx, name, "/api/v2/bench/ceiling", api)
    print(f"   {name}: {row['requests_per_s']:.0f} req/s", flush=True)
    return row


def run(scale: str, database_url: str, redis_url: str, only: frozenset[str] = frozenset()) -> int:
    profile = PROFILES[scale]
    manifest_path = RESULTS / f"{scale}-manifest.json"
    RESULTS.mkdir(parents=True, exist_ok=True)
    # Always fresh: the flow and burst scenarios change the data they use.
    manifest = generate(database_url, scale, manifest_path)
    redis.Redis.from_url(redis_url).flushdb()
    fake_slack = FakeSlack().start()
    stack = LiveStack(
        database_url=database_url, redis_url=redis_url, workdir=RESULTS / "logs" / scale,
        slack_api_url=fake_slack.api_url, web_workers=2, web_threads=1,
        extra_env={"BENCH_ENDPOINTS": "1", "API_RATE_LIMIT": "100000000/min", "SLACK_SIGNING_SECRET": SLACK_SECRET},
    )
    started_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    db = psycopg2.connect(database_url)
    db.autocommit = True
    try:
        with stack:
            prep = prepared(stack, manifest)
            manifest["slack_status_incidents"] = prep["slack"]["status_incidents"]
            manifest["slack"] = prep["slack"]
            stack.start_web()
            stack.start_worker(concurrency=2)
            ctx = Context(base_url=stack.url(""), manifest=manifest, fake_slack=fake_slack, db=db, profile=profile,
                          api_headers=clients.api_headers(manifest["api"]["key"]))
            http = http_scenarios(ctx, prep, only)
            if only:
                return _only_report(scale, started_at, manifest, http)
            print("== slack_ack", flush=True)
            slack = scenarios.slack_ack(ctx)
            print(f"   p99 {slack['p99_ms']:.0f} ms", flush=True)
            print("== learning_flow", flush=True)
            flow = scenarios.learning_flow(ctx)
            print(f"   status p95 {flow['next_status']['p95_ms']:.0f} ms, "
                  f"slack p95 {flow['slack_message']['p95_ms']:.0f} ms", flush=True)
            print("== burst", flush=True)
            burst = scenarios.burst(ctx)
            print(f"   {burst}", flush=True)
            print("== reminder_sweep", flush=True)
            sweep = reminder_sweep(stack, profile.sweep_steady_runs)
            first, steady = sweep["first"], sweep["steady"]
            print(f"   first {first['seconds']:.1f} s ({first['reminders']} reminders, {first['escalations']} "
                  f"escalations, {first['batches']} batches), steady p95 {steady['p95_ms']:.0f} ms", flush=True)
    finally:
        db.close()
        fake_slack.stop()
    ceilings = [row for row in http if row["name"].startswith("ceiling")]
    results = {
        "scale": scale, "started_at": started_at, "machine": machine(),
        "data": manifest.get("counts", {}),
        "ceiling_requests_per_s": max(row["requests_per_s"] for row in ceilings),
        "http": [row for row in http if not row["name"].startswith("ceiling_after_")],
        "ceiling_runs": [row["requests_per_s"] for row in ceilings],
        "slack_ack": slack, "learning_flow": flow, "burst": burst, "reminder_sweep": sweep,
    }
    # Small data on a busy CI machine says nothing about speed; it still must be correct.
    results["enforced"] = "all" if scale == "full" else "correctness"
    budgets = report.check_budgets(results)
    md_path, json_path = report.write(results, budgets, RESULTS)
    print()
    print(md_path.read_text())
    print(f"Written: {md_path} and {json_path}")
    missed = [b.name for b in budgets if not b.held and (scale == "full" or not b.timing)]
    if missed:
        print(f"MISSED BUDGETS: {', '.join(missed)}")
        return 1
    return 0


def _only_report(scale: str, started_at: str, manifest: dict, http: list[dict]) -> int:
    """``--only``: the chosen HTTP scenarios and the ceiling runs around them,
    printed and written to ``<scale>-only.json``; no budget is checked."""
    results = {"scale": scale, "started_at": started_at, "machine": machine(), "data": manifest.get("counts", {}),
               "http": http}
    path = RESULTS / f"{scale}-only.json"
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print("\n| Scenario | req/s | p50 ms | p95 ms | p99 ms | SQL queries (small org) |\n|---|---:|---:|---:|---:|---:|")
    for row in http:
        print(f"| {row['name']} | {row['requests_per_s']:.0f} | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | "
              f"{row['p99_ms']:.1f} | {row['queries']} ({row['queries_small_org']}) |")
    print(f"Written: {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(PROFILES), default="full")
    parser.add_argument("--database-url", default=None,
                        help="default: DATABASE_URL's server, database incidentio_bench_<scale>")
    parser.add_argument("--redis-url", default=None, help="default: REDIS_URL's server, database 7")
    parser.add_argument("--only", default="", metavar="NAME,…",
                        help="run only these HTTP scenarios (e.g. live_incident_unchanged), with the ceiling "
                             "around them; no Slack, flow, burst or sweep scenario, no budgets")
    args = parser.parse_args(argv)
    server = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    if not server.startswith(("postgres://", "postgresql://")):
        parser.error("the benchmark needs Postgres: set DATABASE_URL to a postgres:// URL")
    database_url = args.database_url or with_path(server, f"/incidentio_bench_{args.scale}")
    redis_url = args.redis_url or with_path(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0", "/7")
    try:
        return run(args.scale, database_url, redis_url, frozenset(filter(None, args.only.split(","))))
    except Exception as error:  # broad on purpose: the run failed: say why and exit 2
        print(f"BENCHMARK RUN FAILED: {type(error).__name__}: {error}", file=sys.stderr)
        raise SystemExit(2) from error


if __name__ == "__main__":
    sys.exit(main())
