"""The six HTTP, Slack and flow scenarios of issue 7 (the seventh, the reminder sweep, is bench/sweep.py). Each returns a plain dict for the report.

``ctx`` (:class:`bench.run.Context`) carries the stack's base URL, the API key,
the signed-in cookies, the manifest of the generated data, the fake Slack and a
psycopg2 connection to the database under test (read-only checks).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import defaultdict

from bench import clients
from bench.loadgen import LoadError, open_loop, percentiles, run_wrk

TASK_MESSAGE_MARK = "learning status"  # slackbot.blocks.task_message: "*INC-12 …* — learning status *Reviewing* …"
SLACK_RATE_TOLERANCE_S = 0.05  # clock jitter between two recorded arrivals


# --- 1-3: HTTP throughput, latency and queries -------------------------------------------------


def http_scenario(ctx, name: str, path: str, headers: dict, *, compare_path: str | None = None,
                  compare_headers: dict | None = None, connections: int | None = None, status: int = 200) -> dict:
    """wrk against ``path`` with ``connections`` (default: the profile's); its
    query count, and the same page's count on a small org's data. ``status``:
    the answer every request must get (a live poll's 304: checked again after
    the run, so that a version that moved meanwhile cannot pass renders off as 304s)."""
    connections = connections or ctx.connections
    url = ctx.base_url + path
    clients.get_json(url, headers) if path.startswith("/api/") else None  # fail fast with the body
    queries = clients.query_count(url, headers, status=status)
    small_queries = (
        clients.query_count(ctx.base_url + compare_path, compare_headers or headers, status=status)
        if compare_path else None
    )
    run_wrk(url, headers=headers, seconds=ctx.warmup_seconds, connections=connections)  # warm caches
    result = run_wrk(url, headers=headers, seconds=ctx.seconds, connections=connections)
    if status != 200:
        clients.query_count(url, headers, status=status)
    return {"name": name, "path": path, **result.as_dict(), "queries": queries, "queries_small_org": small_queries,
            "connections": connections}


def paired_p50(ctx, paths: dict[str, str], headers: dict, *, rounds: int = 3) -> dict[str, float]:
    """The median p50 of each path over ``rounds`` alternating wrk runs of a
    third of a scenario's length: two pages compared by latency are measured
    in the same minutes, so the machine's drift within a run does not decide it."""
    samples: dict[str, list[float]] = defaultdict(list)
    seconds = max(1.0, ctx.seconds / rounds)
    for _ in range(rounds):
        for name, path in paths.items():
            result = run_wrk(ctx.base_url + path, headers=headers, seconds=seconds, connections=ctx.connections)
            samples[name].append(result.p50_ms)
    return {name: statistics.median(values) for name, values in samples.items()}


# --- 4: Slack acknowledgement with a slow Web API ------------------------------------------------


def slack_ack(ctx) -> dict:
    """``/inc status`` in incident channels while every Web API call takes ``slack_delay`` s."""
    ctx.fake_slack.delay = ctx.slack_delay
    incidents = ctx.manifest["slack_status_incidents"]
    try:
        jobs = [
            (lambda n=n: clients.slack_command(
                ctx.base_url, secret=ctx.slack_secret, team_id=ctx.manifest["slack"]["team_id"],
                user_id=ctx.manifest["slack"]["user_id"], channel_id=incidents[n % len(incidents)]["channel"],
                text="status", nonce=n,
            ))
            for n in range(ctx.slack_commands)
        ]
        latencies = open_loop(jobs, rate_per_s=ctx.slack_rate)
    finally:
        ctx.fake_slack.delay = 0.0
    return {"name": "slack_ack", "web_api_delay_s": ctx.slack_delay, "rate_per_s": ctx.slack_rate,
            **percentiles(latencies)}


# --- 5: learning flow end to end ----------------------------------------------------------------


class StatusWatcher(threading.Thread):
    """Polls the database for when each incident's status changes (first time seen)."""

    def __init__(self, connection, public_ids: list[str], interval: float = 0.02):
        super().__init__(daemon=True)
        self.connection = connection
        self.public_ids = public_ids
        self.interval = interval
        self.initial: dict[str, int] = {}
        self.changed_at: dict[str, float] = {}
        self._halt = threading.Event()
        self.initial = self._statuses()

    def _statuses(self) -> dict[str, int]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT public_id::text, status_id FROM incidentio_incident WHERE public_id = ANY(%s::uuid[])",
                (self.public_ids,),
            )
            return dict(cursor.fetchall())

    def run(self) -> None:
        while not self._halt.is_set() and len(self.changed_at) < len(self.public_ids):
            now = time.monotonic()
            for public_id, status_id in self._statuses().items():
                if status_id != self.initial[public_id] and public_id not in self.changed_at:
                    self.changed_at[public_id] = now
            time.sleep(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)


def _task_messages_by_channel(fake_slack, channels: set[str]) -> dict[str, list[float]]:
    arrived: dict[str, list[float]] = defaultdict(list)
    for call in list(fake_slack.calls):
        channel = call.params.get("channel")
        if call.method == "chat.postMessage" and channel in channels and TASK_MESSAGE_MARK in call.params.get("text", ""):
            arrived[channel].append(call.at)
    return arrived


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def learning_flow(ctx) -> dict:
    """Address the last outstanding task of each flow incident; time the advance and its Slack message."""
    flow = ctx.manifest["flow_incidents"]
    ids = [item["incident_id"] for item in flow]
    channels = {item["channel"] for item in flow}
    watcher = StatusWatcher(ctx.db, ids)
    answered_at: dict[str, float] = {}
    ctx.fake_slack.calls.clear()
    watcher.start()

    def complete(item):
        clients.post_json(
            f"{ctx.base_url}/api/v2/learning_tasks/{item['task_id']}/actions/complete", ctx.api_headers, {},
        )
        answered_at[item["incident_id"]] = time.monotonic()

    try:
        open_loop([lambda item=item: complete(item) for item in flow], rate_per_s=ctx.flow_rate)
        _wait(lambda: len(watcher.changed_at) == len(ids), ctx.flow_timeout)
        _wait(lambda: len(_task_messages_by_channel(ctx.fake_slack, channels)) == len(channels), ctx.flow_timeout)
    finally:
        watcher.stop()
    messages = _task_messages_by_channel(ctx.fake_slack, channels)
    status_ms, slack_ms = [], []
    for item in flow:
        sent = answered_at[item["incident_id"]]
        if item["incident_id"] in watcher.changed_at:
            status_ms.append(max(0.0, watcher.changed_at[item["incident_id"]] - sent) * 1000)
        arrivals = [at for at in messages.get(item["channel"], []) if at >= sent - 5]
        if arrivals:
            slack_ms.append(max(0.0, min(arrivals) - sent) * 1000)
    missing_status = len(flow) - len(status_ms)
    missing_slack = len(flow) - len(slack_ms)
    if missing_status or missing_slack:
        raise LoadError(f"learning flow: {missing_status} incidents did not advance and {missing_slack} task "
                        f"messages did not arrive within {ctx.flow_timeout}s")
    return {
        "name": "learning_flow", "incidents": len(flow), "rate_per_s": ctx.flow_rate,
        "next_status": percentiles(status_ms), "slack_message": percentiles(slack_ms),
    }


# --- 6: burst of closes --------------------------------------------------------------------------


def burst(ctx) -> dict:
    """Close many incidents into the flow at once; every task message must arrive, 1/s per channel at most."""
    items = ctx.manifest["burst_incidents"]
    channels = {item["channel"] for item in items}
    ctx.fake_slack.calls.clear()
    started = time.monotonic()

    def close(item):
        clients.post_json(f"{ctx.base_url}/api/v2/incidents/{item['incident_id']}/actions/close", ctx.api_headers,
                          {"learning_flow": "run"})

    open_loop([lambda item=item: close(item) for item in items], rate_per_s=ctx.burst_rate, workers=8)
    closed_in = time.monotonic() - started
    delivered = _wait(
        lambda: len(_task_messages_by_channel(ctx.fake_slack, channels)) == len(channels), ctx.burst_timeout,
    )
    messages = _task_messages_by_channel(ctx.fake_slack, channels)
    last = max((max(times) for times in messages.values()), default=started)

    # Slack's posting limit: one new message per second per channel.
    per_channel: dict[str, list[float]] = defaultdict(list)
    for call in list(ctx.fake_slack.calls):
        if call.method == "chat.postMessage" and call.params.get("channel") in channels:
            per_channel[call.params["channel"]].append(call.at)
    too_fast = sum(
        1 for times in per_channel.values() for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
        if b - a < 1.0 - SLACK_RATE_TOLERANCE_S
    )
    duplicates = sum(len(times) - 1 for times in messages.values() if len(times) > 1)
    def outbox_states() -> dict:
        with ctx.db.cursor() as cursor:
            cursor.execute(
                "SELECT state, count(*) FROM slackbot_outboxmessage WHERE incident_id IN "
                "(SELECT id FROM incidentio_incident WHERE public_id = ANY(%s::uuid[])) GROUP BY state",
                ([item["incident_id"] for item in items],),
            )
            return dict(cursor.fetchall())

    # Everything else the closes queued (DMs to assignees, …) must go out too.
    all_sent = _wait(lambda: "pending" not in outbox_states(), ctx.burst_timeout)
    outbox_done = time.monotonic() - started
    outbox = outbox_states()
    return {
        "name": "burst", "incidents": len(items), "closed_in_s": round(closed_in, 2),
        "all_delivered_in_s": round(last - started, 2), "delivered": delivered,
        "lost": len(channels) - len(messages), "duplicates": duplicates,
        "rate_violations": too_fast, "outbox_states": outbox, "outbox_all_sent": all_sent,
        "outbox_all_sent_in_s": round(outbox_done, 2),
    }
