"""The one way a webhook leaves the process: a signed POST with a short timeout.

Typed errors, as the Slack transport's: ``DeliveryError.permanent`` means the
receiver asked never to be called again (410 Gone), so the endpoint is
disabled at once instead of retried. Redirects are not followed: a 3xx is a
failed attempt, like any other non-2xx answer.

Only the status code and the reason phrase are kept from a failed answer,
never the body: the delivery log must not become a way to read what some
other server answers.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

from webhooks import signing

USER_AGENT = "incidentio-webhooks/1"


class DeliveryError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None, permanent: bool = False):
        super().__init__(message)
        self.status_code = status_code
        self.permanent = permanent


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # urllib then raises HTTPError with the 3xx code


_opener = urllib.request.build_opener(_NoRedirects)


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def is_public_host_literal(host: str) -> bool:
    """False for ``localhost`` and IP literals that are not globally routable.

    Names are resolved (and checked) only at delivery, by ``assert_public``.
    """
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return False
    try:
        return ipaddress.ip_address(host.strip("[]")).is_global
    except ValueError:
        return True  # a name: checked when it is resolved


def assert_public(url: str) -> None:
    """Refuse to deliver to an address on a private or local network (SSRF)."""
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError as exc:
        raise DeliveryError(f"Could not resolve {host}: {exc}") from None
    for address in addresses:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise DeliveryError(f"{host} resolves to a non-public address ({address}).", permanent=True)


def send(*, url: str, secret: str, event_id: str, payload: dict) -> int:
    """POST ``payload`` to ``url``, signed; returns the 2xx status or raises DeliveryError."""
    assert_public(url)
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        **signing.sign(secret=secret, msg_id=event_id, body=body),
    }
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    timeout = getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10)
    try:
        with _opener.open(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        reason = f"HTTP {exc.code} {exc.reason}".strip()
        raise DeliveryError(reason, status_code=exc.code, permanent=exc.code == 410) from None
    except urllib.error.URLError as exc:
        raise DeliveryError(f"Could not connect: {exc.reason}") from None
    except TimeoutError:
        raise DeliveryError(f"No answer within {timeout} s.") from None
    except (http.client.HTTPException, OSError) as exc:
        raise DeliveryError(f"Connection failed: {type(exc).__name__}: {exc}"[:500]) from None
