"""The one way a webhook leaves the process: a signed POST with a short timeout.

Typed errors, as the Slack transport's: ``DeliveryError.permanent`` means the
receiver asked never to be called again (410 Gone), so the endpoint is
disabled at once instead of retried. Redirects are not followed: a 3xx is a
failed attempt, like any other non-2xx answer.

Only the status code and the reason phrase are kept from a failed answer,
never the body: the delivery log must not become a way to read what some
other server answers.

SSRF: the host name is resolved exactly once per attempt, every address it
resolves to is checked (``incidentio.common.egress.is_public_address``, the
judgement single sign-on shares), and the connection goes to one
of those checked addresses. Nothing resolves the name a second time, so a DNS
answer that changes between the check and the connect (DNS rebinding) cannot
steer the request to an internal address. The request still carries the
name: the Host header, and for https the TLS server name (SNI) and the name
the certificate is verified against.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import socket
import ssl
import urllib.parse

from django.conf import settings

from incidentio.common.egress import is_public_address
from webhooks import signing

USER_AGENT = "incidentio-webhooks/1"


class DeliveryError(Exception):
    def __init__(self, message: str, *, status_code: int | None = None, permanent: bool = False):
        super().__init__(message)
        self.status_code = status_code
        self.permanent = permanent


def encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


# --- Which addresses may be called (judged by incidentio.common.egress) ----------------------------


def resolve(host: str, port: int) -> list[tuple]:
    """Resolve ``host`` once; the ``getaddrinfo`` entries to connect to, every one checked.

    Refuses (permanently) a name with any non-public address unless
    ``WEBHOOK_ALLOW_PRIVATE_ADDRESSES``: one private answer among public ones
    is enough to refuse, since the connection could be made to it.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise DeliveryError(f"Could not resolve {host}: {exc}") from None
    if not infos:
        raise DeliveryError(f"Could not resolve {host}: no address.")
    if not settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        for info in infos:
            address = info[4][0]
            if not is_public_address(ipaddress.ip_address(address)):
                raise DeliveryError(f"{host} resolves to a non-public address ({address}).", permanent=True)
    return infos


# --- Connections pinned to the checked addresses --------------------------------------------------


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTPConnection to ``host`` that connects to the given, already checked,
    ``getaddrinfo`` entries instead of resolving ``host`` again."""

    def __init__(self, host: str, port: int, *, addresses: list[tuple], timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.addresses = addresses

    def _open_socket(self) -> socket.socket:
        # socket.create_connection's loop, but over the checked sockaddrs: it
        # would call getaddrinfo again.
        error: OSError | None = None
        for family, type_, proto, _, sockaddr in self.addresses:
            sock = socket.socket(family, type_, proto)
            try:
                sock.settimeout(self.timeout)
                sock.connect(sockaddr)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        raise error

    def connect(self) -> None:
        self.sock = self._open_socket()


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """TLS to the pinned address, with SNI and certificate verification for ``host``."""

    default_port = http.client.HTTPS_PORT  # the Host header omits :443, as for any https client

    def __init__(self, host: str, port: int, *, addresses: list[tuple], timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, addresses=addresses, timeout=timeout)
        self.context = context

    def connect(self) -> None:
        sock = self._open_socket()
        try:
            self.sock = self.context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


@functools.lru_cache(maxsize=4)
def _tls_context(cafile: str | None) -> ssl.SSLContext:
    # The default context verifies the chain and the host name.
    return ssl.create_default_context(cafile=cafile)


def _connection(url: str, timeout: float) -> tuple[_PinnedHTTPConnection, str]:
    """A connection for ``url``, pinned to its checked addresses, and the request target."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    try:
        port = parts.port or (http.client.HTTPS_PORT if https else http.client.HTTP_PORT)
        ascii_host = host.encode("idna").decode("ascii")  # the Host header and SNI are ASCII
    except (ValueError, UnicodeError) as exc:
        raise DeliveryError(f"Invalid URL: {exc}") from None
    addresses = resolve(ascii_host, port)
    if https:
        context = _tls_context(getattr(settings, "WEBHOOK_CA_BUNDLE", None))
        connection = _PinnedHTTPSConnection(ascii_host, port, addresses=addresses, timeout=timeout, context=context)
    else:
        connection = _PinnedHTTPConnection(ascii_host, port, addresses=addresses, timeout=timeout)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return connection, target


def send(*, url: str, secret: str, event_id: str, payload: dict) -> int:
    """POST ``payload`` to ``url``, signed; returns the 2xx status or raises DeliveryError."""
    timeout = getattr(settings, "WEBHOOK_TIMEOUT_SECONDS", 10)
    connection, target = _connection(url, timeout)
    body = encode(payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Connection": "close",
        **signing.sign(secret=secret, msg_id=event_id, body=body),
    }
    try:
        try:
            connection.connect()
        except OSError as exc:  # refused, unreachable, timed out, TLS handshake or certificate
            raise DeliveryError(f"Could not connect: {exc}"[:500]) from None
        connection.request("POST", target, body=body, headers=headers)
        # Only the status line is read: the body is never kept (see the module docstring).
        response = connection.getresponse()
    except TimeoutError:
        raise DeliveryError(f"No answer within {timeout} s.") from None
    except (http.client.HTTPException, OSError) as exc:
        raise DeliveryError(f"Connection failed: {type(exc).__name__}: {exc}"[:500]) from None
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return response.status
    reason = f"HTTP {response.status} {response.reason}".strip()
    raise DeliveryError(reason, status_code=response.status, permanent=response.status == 410)
