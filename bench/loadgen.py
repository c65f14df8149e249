"""Load generators: wrk (Debian's package) for closed-loop HTTP throughput, and
an open-loop sender for the Slack and flow scenarios, where what matters is the
latency of each request at a steady, realistic rate rather than the ceiling."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPORT_SCRIPT = Path(__file__).with_name("wrk_report.lua")


class LoadError(RuntimeError):
    pass


@dataclass
class HttpResult:
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    requests: int
    errors: int

    def as_dict(self) -> dict:
        return {
            "requests_per_s": round(self.requests_per_s, 1), "p50_ms": round(self.p50_ms, 2),
            "p95_ms": round(self.p95_ms, 2), "p99_ms": round(self.p99_ms, 2),
            "requests": self.requests, "errors": self.errors,
        }


def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise LoadError("wrk is not installed: apt-get install wrk (make bench does this)")
    return found


def run_wrk(url: str, *, headers: dict, seconds: float, connections: int, threads: int = 1) -> HttpResult:
    command = [
        wrk_path(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
        "-s", str(REPORT_SCRIPT),
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in output.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if output.returncode != 0 or line is None:
        raise LoadError(f"wrk failed on {url}:\n{output.stdout}\n{output.stderr}")
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = data["socket_errors"] + data["non_2xx"]
    if errors:
        raise LoadError(f"wrk saw {errors} failed requests on {url} (non-2xx: {data['non_2xx']})")
    return HttpResult(
        requests_per_s=data["requests"] / (data["duration_us"] / 1e6),
        p50_ms=data["p50_us"] / 1000, p95_ms=data["p95_us"] / 1000, p99_ms=data["p99_us"] / 1000,
        requests=data["requests"], errors=errors,
    )


def percentiles(samples_ms: list[float]) -> dict:
    if not samples_ms:
        raise LoadError("no samples")
    ordered = sorted(samples_ms)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]

    return {
        "count": len(ordered), "p50_ms": round(at(0.50), 2), "p95_ms": round(at(0.95), 2),
        "p99_ms": round(at(0.99), 2), "max_ms": round(ordered[-1], 2), "mean_ms": round(statistics.fmean(ordered), 2),
    }


def open_loop(jobs: list, *, rate_per_s: float, workers: int = 16) -> list:
    """Start ``jobs`` (callables) at a steady rate, whatever the previous ones are doing;
    return their results in order. A job that raises fails the run."""
    interval = 1.0 / rate_per_s
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = []
        for index, job in enumerate(jobs):
            delay = started + index * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(job))
        return [future.result() for future in futures]
