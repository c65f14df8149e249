"""Which addresses the server may call for an org, and a ``requests`` session that calls no other.

Org admins enter URLs the server then calls: webhook receivers, an identity
provider's issuer and SAML metadata. Unchecked, such a URL makes the server
call loopback, the internal network or the cloud metadata address
(169.254.169.254) on an admin's behalf (server-side request forgery).
``is_public_address`` is the one judgement of an address, for webhooks
(``webhooks.transport``, with its own pinned connections).
"""

from __future__ import annotations

import ipaddress

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

