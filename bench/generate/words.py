"""Word lists for names, incident titles and timeline text: realistic enough that
pages render what a real org's would (lengths, markdown, unicode quotes)."""

from __future__ import annotations

FIRST = [
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam", "Maya",
    "Noor", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe",
    "Aiko", "Bruno", "Carmen", "Dmitri", "Esther", "Felix", "Gita", "Hugo", "Isla", "Jamal", "Kira", "Lars",
    "Mei", "Nico",
]
LAST = [
    "Adams", "Bakker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ivanova", "Jensen", "Kowalski",
    "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quispe", "Rossi", "Silva", "Tanaka", "Umarov", "Varga",
    "Weber", "Xu", "Yilmaz", "Zhang", "Andersen", "Brown", "Chen", "Diaz", "Evans", "Fernandes", "Gomez", "Horvat",
    "Ito", "Jovanovic", "Kim", "Lopez", "Murphy", "Novak",
]

SERVICES = [
    "checkout API", "payments gateway", "search", "login", "session store", "webhook workers", "billing jobs",
    "notifications", "mobile API", "CDN", "image resizer", "reporting warehouse", "Kafka cluster", "Postgres primary",
    "Redis cache", "DNS", "status page", "admin console", "export service", "invoice PDFs", "SSO", "feature flags",
    "rate limiter", "load balancer", "email delivery",
]
REGIONS = ["eu-west-1", "us-east-1", "us-west-2", "ap-southeast-2", "eu-central-1"]
SYMPTOMS = [
    "returning 502s", "elevated latency", "timeouts for some customers", "stale results", "error rate above SLO",
    "degraded in {region}", "unavailable", "dropping messages", "queue backlog growing", "intermittent 500s",
    "slow page loads", "failing health checks", "high CPU after deploy", "certificate expiry warning",
    "disk almost full", "replication lag",
]
SUMMARIES = [
    "Customers in {region} see errors from the {service}; about {pct}% of requests fail.",
    "Latency on the {service} went from 120 ms to **{n} ms** at p95 after the {hour}:05 deploy.",
    "The {service} stopped processing new work; the backlog is {n}k items and growing.",
    "Alerts fired for the {service} in {region}. Impact still being assessed.",
    "",
]
UPDATES = [
    "Investigating elevated errors on the {service}; first alert at {hour}:{minute:02d} UTC.",
    "Rolling back deploy `{sha}` — the error rate tracks it.",
    "Rollback done; errors on the {service} down to {pct}%.",
    "We think the cause is connection-pool exhaustion on the {service}. Scaling up while we confirm.",
    "Customer support reports {n} tickets so far. Status page updated.",
    "Failover to {region} complete; watching latency.",
    "Found it: a config push changed the timeout from 30 s to 3 s.\n\nReverting now.",
    "Queue depth is {n}k and draining at ~2k/min.",
    "Vendor confirms an issue on their side; their status page: https://status.example.com/incidents/{n}",
    "Error rate back to baseline for 30 minutes. Moving to monitoring.",
    "Paging the {service} on-call for a second pair of eyes.",
    "Disabled the `{flag}` feature flag; checking whether that helps.",
    "Next update in 30 minutes.",
]
FLAGS = ["new-checkout", "async-export", "edge-cache", "v2-search", "batch-billing"]
DECLINE_REASONS = [
    "A display preference, not an incident; ticket filed.",
    "Expected behaviour during the maintenance window.",
    "Single customer's misconfiguration; handed to support.",
    "Alert threshold too tight; tuned instead.",
]
CANCEL_REASONS = ["Declared by mistake.", "Duplicate declaration from the alerting integration.", "Test incident."]
OPT_OUT_REASONS = [
    "No customer impact; resolved by automatic failover.",
    "Duplicate of an earlier incident; the learning happens there.",
    "Vendor outage; their post-mortem covers it.",
    "Known issue already tracked in the platform roadmap.",
    "False alarm from a noisy monitor; the alert was tuned.",
]
NOT_DOING_REASONS = [
    "", "", "Covered in the weekly incident review.", "Not needed for an incident this small.",
    "Already discussed in the team retro.", "Internal-only; nothing to share.",
]
FOLLOW_UPS = [
    "Add a canary stage to the {service} deploy",
    "Alert on the 5xx ratio, not the count",
    "Document the failover runbook for {region}",
    "Raise the connection-pool limit on the {service}",
    "Add a dashboard for {service} queue depth",
    "Load-test the {service} at 2× peak",
    "Rotate certificates automatically",
    "Add a circuit breaker around the {service}",
]
POSTMORTEM = """## Summary

{summary}

## Impact

- About {pct}% of requests to the {service} failed for {minutes} minutes.
- Support received {n} tickets.

## Root causes

1. A configuration change to the {service} shipped without a canary.
2. The alert on the {service} fired on a count, which lags on low traffic.

## What went well

- The on-call engineer was paged within 2 minutes.

## What could have gone better

- The rollback took longer than it should have.
"""
