"""Screenshots of the main pages at 1440 and 390 px, for the README: ``make screenshots``.

Runs against the demo data (``manage.py seed_demo``, which ``make screenshots``
runs first) on whatever database the environment names, like ``make run``:
starts ``manage.py runserver`` on a free port, signs in as the demo's Alice in
Debian's Chromium, and writes ``docs/screenshots/<page>-<width>.png``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.helpers import fill_sign_in

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
EMAIL, PASSWORD = "alice@example.com", "incidentio-demo"  # orgs/management/commands/seed_demo.py
INCIDENT = "Checkout API returning 502s"  # the demo's incident with a post-mortem, in its learning flow
WIDTHS = {1440: 900, 390: 844}
MAX_HEIGHT = 2400


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT, env={**os.environ, "DEBUG": "1"}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except (urllib.error.URLError, ConnectionError):
            if server.poll() is not None:
                raise SystemExit("manage.py runserver exited: is the database up and migrated (make seed)?") from None
            time.sleep(0.3)
    server.terminate()
    raise SystemExit("manage.py runserver did not answer within 30 s")


def _sign_in(page, path: str) -> None:
    page.goto(path)
    fill_sign_in(page, EMAIL, PASSWORD)
    page.wait_for_url(f"**{path}")


def _shoot(page, name: str, width: int) -> None:
    page.wait_for_load_state("networkidle")  # the Insights charts draw after their data arrives
    path = OUT / f"{name}-{width}.png"
    # The whole page, up to about three screens: enough to show it, small enough to commit.
    height = min(page.evaluate("document.documentElement.scrollHeight"), MAX_HEIGHT)
    page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": 0, "width": width, "height": height})
    print(f"  {path.relative_to(ROOT)}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(port)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            for width, height in WIDTHS.items():
                context = browser.new_context(base_url=base, viewport={"width": width, "height": height})
                page = context.new_page()
                page.goto("/accounts/login/")
                _shoot(page, "sign-in", width)
                _sign_in(page, "/acme/incidents/")
                _shoot(page, "incidents", width)
                page.goto("/acme/incidents/?q=" + INCIDENT.replace(" ", "+"))
                page.get_by_role("link", name=INCIDENT).first.click()
                page.wait_for_url("**/acme/incidents/*/")
                incident = page.url
                _shoot(page, "incident", width)
                page.goto(incident + "postmortem/")
                _shoot(page, "postmortem", width)
                for name, path in [("my-tasks", "/acme/tasks/"), ("post-incident", "/acme/post-incident/"),
                                   ("insights", "/acme/insights/"), ("settings", "/acme/settings/")]:
                    page.goto(path)
                    _shoot(page, name, width)
                if width < 760:  # the phone's navigation, opened
                    page.get_by_role("button", name="Menu").click()
                    page.screenshot(path=str(OUT / f"menu-{width}.png"))
                    print(f"  docs/screenshots/menu-{width}.png")
                context.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
