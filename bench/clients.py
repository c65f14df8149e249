"""HTTP clients of the stack under test: API-key requests, a signed-in dashboard
session, and signed Slack requests (exactly as Slack signs them)."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from urllib.parse import urlencode

import requests

QUERY_HEADER = "X-Bench-Queries"


class ClientError(RuntimeError):
    pass


def api_headers(key: str) -> dict:
    return {"Authorization": f"Bearer {key}", "Accept": "application/json"}


def sign_in(base_url: str, *, email: str, password: str, org_slug: str) -> str:
    """Sign in through the real allauth page; return the ``Cookie`` header of that browser.

    Production cookies are ``Secure``, which ``requests`` will not send over the
    loopback's plain HTTP, so the cookies are carried by hand.
    """
    session = requests.Session()
    page = session.get(f"{base_url}/accounts/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if token is None:
        raise ClientError("no CSRF token on the sign-in page")
    cookies = {cookie.name: cookie.value for cookie in session.cookies}
    response = session.post(
        f"{base_url}/accounts/login/",
        data={"login": email, "password": password, "csrfmiddlewaretoken": token.group(1), "next": f"/{org_slug}/"},
        headers={"Cookie": cookie_header(cookies), "Referer": f"{base_url}/accounts/login/"},
        allow_redirects=False, timeout=30,
    )
    if response.status_code != 302 or response.headers.get("Location") != f"/{org_slug}/":
        raise ClientError(f"sign-in as {email} failed: {response.status_code} {response.headers.get('Location')}")
    cookies.update({cookie.name: cookie.value for cookie in session.cookies})
    return cookie_header(cookies)


def cookie_header(cookies: dict) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def query_count(url: str, headers: dict, *, status: int = 200) -> int:
    """The SQL queries one request runs (the bench-only ``X-Bench-Queries`` counter), warm:
    after one request, so a first-use cache fill is not counted as the page's cost.
    ``status``: the answer the request must get (a live poll's 304)."""
    requests.get(url, headers=headers, allow_redirects=False, timeout=60)
    response = requests.get(url, headers={**headers, QUERY_HEADER: "1"}, allow_redirects=False, timeout=60)
    if response.status_code != status:
        raise ClientError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    return int(response.headers[QUERY_HEADER])


#: The header static/js/live.js sends with every poll (incidentio.common.live.POLL_HEADER).
LIVE_POLL_HEADER = "X-Live-Poll"


def live_poll_headers(url: str, headers: dict, *, changed: bool) -> dict:
    """What a live page's poll sends: its version in ``If-None-Match``. The
    page's current version (from its ``ETag``): nothing changed, a 304; or a
    version it no longer has: something changed, the page is rendered."""
    poll = {**headers, LIVE_POLL_HEADER: "1"}
    if changed:
        return {**poll, "If-None-Match": '"a-version-the-page-no-longer-has"'}
    response = requests.get(url, headers=poll, allow_redirects=False, timeout=60)
    if response.status_code != 200 or "ETag" not in response.headers:
        raise ClientError(f"GET {url} (live poll) answered {response.status_code} without an ETag")
    return {**poll, "If-None-Match": response.headers["ETag"]}


def get_json(url: str, headers: dict) -> dict:
    response = requests.get(url, headers=headers, timeout=60)
    if response.status_code != 200:
        raise ClientError(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    return response.json()


def post_json(url: str, headers: dict, body: dict) -> requests.Response:
    response = requests.post(url, headers={**headers, "Content-Type": "application/json"}, data=json.dumps(body), timeout=60)
    if response.status_code >= 300:
        raise ClientError(f"POST {url} answered {response.status_code}: {response.text[:300]}")
    return response


def slack_command(base_url: str, *, secret: str, team_id: str, user_id: str, channel_id: str, text: str,
                  nonce: int) -> float:
    """POST a signed ``/inc`` slash command; return the acknowledgement latency in ms."""
    body = urlencode({
        "token": "unused", "team_id": team_id, "team_domain": "bench", "channel_id": channel_id,
        "channel_name": "incident", "user_id": user_id, "user_name": "bench", "command": "/inc", "text": text,
        "response_url": "https://hooks.slack.invalid/commands/1", "trigger_id": f"bench.{nonce}.{time.time_ns()}",
        "api_app_id": "ABENCH",
    })
    timestamp = str(int(time.time()))
    signature = "v0=" + hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
    started = time.monotonic()
    response = requests.post(
        f"{base_url}/slack/events", data=body, timeout=30,
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": timestamp,
                 "X-Slack-Signature": signature},
    )
    elapsed = (time.monotonic() - started) * 1000
    if response.status_code != 200 or not response.content:
        raise ClientError(f"/inc {text} answered {response.status_code} {response.text[:200]!r}")
    return elapsed
