"""Signing webhook deliveries, Standard Webhooks style (https://www.standardwebhooks.com).

Every request carries three headers:

- ``webhook-id``: the event id, the same on every retry of one event;
- ``webhook-timestamp``: when this attempt was signed, in unix seconds;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``
  keyed with the endpoint's secret. The header may hold several signatures
  separated by spaces; one valid signature is enough.

The secret reads ``whsec_<base64>``; the HMAC key is the base64-decoded part,
so the ``standardwebhooks`` libraries verify these requests unchanged.
``verify`` is what a receiver written in Python needs (docs/webhooks.md).
This module depends on nothing but the standard library: copy it as is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Mapping

SECRET_PREFIX = "whsec_"
#: How far a timestamp may be from the receiver's clock (either way), in seconds.
DEFAULT_TOLERANCE = 5 * 60


class WebhookVerificationError(Exception):
    """The request is not a valid, fresh delivery signed with this secret."""


def _key(secret: str) -> bytes:
    encoded = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        return base64.b64decode(encoded, validate=True)
    except ValueError as exc:
        raise ValueError("A webhook secret reads whsec_<base64>.") from exc


def _bytes(body: bytes | str) -> bytes:
    return body.encode() if isinstance(body, str) else body


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """The base64 HMAC-SHA256 of ``{msg_id}.{timestamp}.{body}`` (without ``v1,``)."""
    signed = f"{msg_id}.{timestamp}.".encode() + _bytes(body)
    return base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()


def sign(*, secret: str, msg_id: str, body: bytes | str, timestamp: int | None = None) -> dict[str, str]:
    """The three headers that sign ``body`` as event ``msg_id``."""
    timestamp = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + signature(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    # HTTP header names are case-insensitive; plain dicts are not.
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise WebhookVerificationError(f"Missing header {name}.")


def verify(
    *,
    secret: str,
    headers: Mapping[str, str],
    body: bytes | str,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
):
    """Check a received request and return its JSON payload.

    Raises ``WebhookVerificationError`` when a header is missing, the timestamp
    is more than ``tolerance`` seconds from now (a replay), or no signature
    matches. Signatures are compared in constant time. Pass the raw body, as
    received: re-serialised JSON does not verify.
    """
    msg_id = _header(headers, "webhook-id")
    raw_timestamp = _header(headers, "webhook-timestamp")
    try:
        timestamp = int(raw_timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a unix timestamp.") from None
    now = time.time() if now is None else now
    if timestamp < now - tolerance:
        raise WebhookVerificationError("The timestamp is too old.")
    if timestamp > now + tolerance:
        raise WebhookVerificationError("The timestamp is in the future.")

    expected = signature(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body)
    for candidate in _header(headers, "webhook-signature").split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return json.loads(_bytes(body))
    raise WebhookVerificationError("No matching signature.")
