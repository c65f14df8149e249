"""Which addresses the server may call for an org, and a ``requests`` session that calls no other.

Org admins enter URLs the server then calls: webhook receivers, an identity
provider's issuer and SAML metadata. Unchecked, such a URL makes the server
call loopback, the internal network or the cloud metadata address
(169.254.169.254) on an admin's behalf (server-side request forgery).
``is_public_address`` is the one judgement of an address, for webhooks
(``webhooks.transport``, with its own pinned connections) and for single
sign-on (``public_only_session``).

DNS rebinding: ``public_only_session`` resolves a name once per connection,
judges every address it resolves to, connects only to those addresses, and
judges the address the socket is connected to (``getpeername``) before a byte
is sent. A name answering public for a check and internal for the connection
therefore reaches nothing, and a refused address gets no packet at all (so the
refusal cannot tell an admin whether some internal port is open).
"""

from __future__ import annotations

import ipaddress
import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 ranges that reach an IPv4 address (RFC 6052 NAT64, RFC 4291's
# deprecated IPv4-compatible form): judged by the IPv4 address they embed, as
# Python's ``is_global`` calls e.g. ``64:ff9b::7f00:1`` (127.0.0.1) global.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
# Refused outright: Teredo tunnels to a client address that cannot be checked
# here, and 64:ff9b:1::/48 is a local-use NAT64 prefix (RFC 8215).
_ALWAYS_REFUSED = (ipaddress.IPv6Network("2001::/32"), ipaddress.IPv6Network("64:ff9b:1::/48"))


# --- Which addresses may be called ----------------------------------------------------------------


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a connection to ``address`` ends up at, for the forms that embed one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public_address(address: IPAddress) -> bool:
    """True only for a globally routable unicast address, the one test at save time and at connection.

    Loopback, private, link-local, shared (CGNAT), documentation, unspecified,
    reserved and multicast addresses are refused; so are IPv6 addresses that
    embed or tunnel to such an IPv4 address (``::ffff:127.0.0.1``,
    ``::127.0.0.1``, ``64:ff9b::7f00:1``, ``2002:7f00:1::``) and Teredo.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if any(address in network for network in _ALWAYS_REFUSED):
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public_address(embedded)
    return address.is_global and not address.is_multicast and not address.is_reserved


def is_public_host_literal(host: str) -> bool:
    """False for ``localhost`` and IP literals that ``is_public_address`` refuses.

    Names are resolved (and checked) only when connecting.
    """
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return False
    try:
        return is_public_address(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return True  # a name: checked when it is resolved


def _is_public(address: str) -> bool:
    # getaddrinfo/getpeername give IPv6 link-local addresses with their zone ("fe80::1%eth0").
    return is_public_address(ipaddress.ip_address(address))


# --- A requests session that connects to public addresses only ------------------------------------


class AddressRefused(requests.ConnectionError):
    """The URL's host is, or resolves to, a non-public address: nothing was sent to it.
    The message is a sentence for the person who entered the URL (``explains_itself``,
    see ``orgs.sso.sign_in.unreachable_reason``)."""

    explains_itself = True


class _NotPublic(Exception):
    """Raised where urllib3 connects. Deliberately not an ``OSError``: urllib3
    would retry it or reword it into a generic connection error."""

    def __init__(self, host: str, address: str):
        super().__init__(host, address)
        self.host = host
        self.address = address

    def sentence(self, service: str) -> str:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return f"{self.host} resolves to a private or internal address ({self.address}), which {service} may not call."
        return f"{self.host} is a private or internal address, which {service} may not call."


class _PublicOnlyConnectionMixin:
    """urllib3's connect (``_new_conn``), resolving once and connecting only to checked addresses."""

    def _new_conn(self) -> socket.socket:
        error: Exception | None = None
        for address in self._checked_addresses():
            try:
                sock = connection.create_connection((address, self.port), self.timeout,
                                                    source_address=self.source_address,
                                                    socket_options=self.socket_options)
            except TimeoutError:  # socket.timeout
                error = ConnectTimeoutError(self, f"Connection to {self.host} timed out. "
                                                  f"(connect timeout={self.timeout})")
                continue
            except OSError as exc:
                error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
                continue
            # The judge of record: where this socket actually goes, whatever resolved it.
            peer = sock.getpeername()[0]
            if not _is_public(peer):
                sock.close()
                raise _NotPublic(self.host, peer)
            return sock
        raise error

    def _checked_addresses(self) -> list[str]:
        """Every address the host resolves to, once, each one public; one that
        is not refuses the host, since a connection could be made to it."""
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, connection.allowed_gai_family(), socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:
            if not _is_public(address):
                raise _NotPublic(self.host, address)
        return addresses


class _PublicOnlyHTTPConnection(_PublicOnlyConnectionMixin, HTTPConnection):
    pass


class _PublicOnlyHTTPSConnection(_PublicOnlyConnectionMixin, HTTPSConnection):
    # TLS is set up on the checked socket for ``host``: SNI and certificate name unchanged.
    pass


class _PublicOnlyHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicOnlyHTTPConnection


class _PublicOnlyHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicOnlyHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    """``requests``' adapter over connections that reach public addresses only.
    Every hop of a redirect is a new request through it, so each is checked.
    Never through a proxy: the address judged would be the proxy's."""

    def __init__(self, *, service: str, **kwargs):
        self.service = service
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicOnlyHTTPPool, "https": _PublicOnlyHTTPSPool}

    def send(self, request, **kwargs):
        kwargs["proxies"] = {}  # environment proxies (HTTP_PROXY, ...) included
        try:
            return super().send(request, **kwargs)
        except _NotPublic as refused:
            raise AddressRefused(refused.sentence(self.service), request=request) from None


def public_only_session(session: requests.Session, *, service: str) -> requests.Session:
    """``session``, calling public addresses only: any other is refused with
    ``AddressRefused``, whose message says ``service`` (e.g. "single sign-on") may not call it."""
    adapter = PublicOnlyAdapter(service=service)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
