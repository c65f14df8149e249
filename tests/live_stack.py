"""The production topology as real processes on loopback: gunicorn, Celery
workers and beat, against a Postgres database and a Redis database you name.

Used where the point is the processes themselves: the benchmarks (``bench/``)
and the fault-injection and load runs (``tests/reliability/``). Settings are
production's (``DEBUG=0``) except what loopback needs: plain HTTP (no SSL
redirect) and the fake Slack's URL.

    with LiveStack(database_url=..., redis_url=..., workdir=tmp, slack_api_url=fake.api_url) as stack:
        stack.start_web()
        stack.start_worker()
        requests.get(stack.url("/healthz"))
        stack.kill_worker()          # SIGKILL, as the OOM killer would
        stack.start_worker()

Every process logs to ``workdir/<name>.log``; ``stack.log_tail(name)`` reads it
back for failure messages.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCH_SECRET_KEY = "live-stack-secret-key-not-for-production-0123456789abcdefghij"
BENCH_FIELD_ENCRYPTION_KEY = "bGl2ZS1zdGFjay1maWVsZC1rZXktbm90LWZvci1wcm8="  # b"live-stack-field-key-not-for-pro"


class StackError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, *, timeout: float, what: str, interval: float = 0.1, on_timeout=None):
    """Poll ``condition`` until it returns something truthy; raise StackError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f"\n{on_timeout()}" if on_timeout else ""
            raise StackError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


@dataclass
class LiveStack:
    database_url: str
    redis_url: str
    workdir: Path
    slack_api_url: str | None = None
    web_workers: int = 2
    web_threads: int = 1
    extra_env: dict = field(default_factory=dict)
    processes: dict = field(default_factory=dict, init=False)
    port: int | None = field(default=None, init=False)

    # --- environment -----------------------------------------------------------------

    def env(self) -> dict:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "incidentio.config.settings",
            "DEBUG": "0",
            "SECRET_KEY": BENCH_SECRET_KEY,
            "FIELD_ENCRYPTION_KEYS": BENCH_FIELD_ENCRYPTION_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_HSTS_SECONDS": "0",
            "SITE_URL": f"http://127.0.0.1:{self.port or 8000}",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "ACCOUNT_EMAIL_VERIFICATION": "none",
            "EMAIL_CONSOLE": "1",  # loopback test stack: no SMTP server
            "PYTHONUNBUFFERED": "1",
        }
        if self.slack_api_url:
            env["SLACK_API_URL"] = self.slack_api_url
        env.update(self.extra_env)
        return env

    def manage(self, *args: str, timeout: float = 600) -> str:
        """Run ``manage.py <args>`` with the stack's environment; return its output."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=self.env(),
            capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode != 0:
            raise StackError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    # --- processes -------------------------------------------------------------------

    def _spawn(self, name: str, command: list[str]) -> subprocess.Popen:
        if name in self.processes and self.processes[name].poll() is None:
            raise StackError(f"{name} is already running")
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = (self.workdir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # signals reach the process group, not this one
        )
        log.close()
        self.processes[name] = process
        return process

    def log_tail(self, name: str, lines: int = 60) -> str:
        try:
            text = (self.workdir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return f"(no {name} log)"
        return f"--- {name} log ---\n" + "\n".join(text.splitlines()[-lines:])

    def _check_alive(self, name: str) -> None:
        process = self.processes[name]
        if process.poll() is not None:
            raise StackError(f"{name} exited with {process.returncode}\n{self.log_tail(name)}")

    def start_web(self, *, timeout: float = 60) -> str:
        """collectstatic, then gunicorn on a free port; returns the base URL."""
        # Every time: a manifest left by an earlier checkout would lack newer files (a 500 on any page naming one).
        self.manage("collectstatic", "--noinput", "--verbosity", "0")
        self.port = self.port or free_port()
        self._spawn("web", [
            sys.executable, "-m", "gunicorn", "incidentio.config.wsgi",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.web_workers), "--threads", str(self.web_threads),
            "--graceful-timeout", "5", "--timeout", "60", "--log-level", "warning",
        ])

        def healthy():
            self._check_alive("web")
            try:
                with urllib.request.urlopen(self.url("/healthz"), timeout=2) as response:
                    return response.status == 200
            except (urllib.error.URLError, OSError):
                return False

        wait_until(healthy, timeout=timeout, what="gunicorn to answer /healthz", on_timeout=lambda: self.log_tail("web"))
        return self.url("")

    def start_worker(self, name: str = "worker", *, concurrency: int = 2, timeout: float = 60) -> subprocess.Popen:
        """A Celery worker; returns once it logs that it is ready."""
        log = self.workdir / f"{name}.log"
        start_offset = log.stat().st_size if log.exists() else 0
        process = self._spawn(name, [
            sys.executable, "-m", "celery", "-A", "incidentio", "worker", "--loglevel=info",
            f"--concurrency={concurrency}", "-n", f"{name}-{uuid.uuid4().hex[:8]}@%h",
            "--without-gossip", "--without-mingle",
        ])

        def ready():
            self._check_alive(name)
            with log.open("rb") as handle:
                handle.seek(start_offset)
                return b" ready." in handle.read()

        wait_until(ready, timeout=timeout, what=f"{name} to be ready", on_timeout=lambda: self.log_tail(name))
        return process

    def start_beat(self) -> subprocess.Popen:
        schedule = self.workdir / "celerybeat-schedule"
        return self._spawn("beat", [
            sys.executable, "-m", "celery", "-A", "incidentio", "beat", "--loglevel=info",
            "--schedule", str(schedule),
        ])

    def signal(self, name: str, sig: int) -> None:
        process = self.processes[name]
        if process.poll() is None:
            os.killpg(process.pid, sig)

    def kill_worker(self, name: str = "worker") -> None:
        """SIGKILL the worker and its pool children: no chance to finish or ack anything."""
        self.signal(name, signal.SIGKILL)
        self.processes[name].wait(timeout=30)

    def stop(self, name: str, *, timeout: float = 20) -> None:
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return
        self.signal(name, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(name, signal.SIGKILL)
            process.wait(timeout=timeout)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def url(self, path: str) -> str:
        if self.port is None:
            raise StackError("the web server is not started")
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> LiveStack:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()
