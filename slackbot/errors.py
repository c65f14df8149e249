"""Slack Web API failures as typed exceptions.

``call_slack(fn, **kwargs)`` runs one Web API call and raises:

- ``SlackPermanentError`` for errors that will not go away by retrying
  (the channel is gone, the bot was removed, the token revoked…);
- ``SlackRateLimited`` for HTTP 429, carrying ``Retry-After`` in seconds;
- ``SlackTransientError`` for 5xx, timeouts and connection errors;
- ``SlackApiError`` (a named error not listed above) for everything else,
  e.g. ``users_not_found``, which callers handle by name.
"""

from __future__ import annotations

import socket
import urllib.error

from slack_sdk.errors import SlackApiError as SdkApiError
from slack_sdk.errors import SlackRequestError

PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "token_revoked",
        "account_inactive",
        "invalid_auth",
        "not_authed",
        "team_access_not_granted",
        "missing_scope",
        "user_not_found",
        "cannot_dm_bot",
        "restricted_action",
        "msg_too_long",
        "invalid_blocks",
    }
)
#: Errors on which the bot's token is unusable: the workspace needs reconnecting.
TOKEN_ERRORS = frozenset({"token_revoked", "invalid_auth", "account_inactive", "not_authed"})


class SlackError(Exception):
    def __init__(self, message: str, *, error: str = "", status: int | None = None):
        super().__init__(message)
        self.error = error
        self.status = status


class SlackApiError(SlackError):
    """Slack answered ``ok: false`` with a named error."""


class SlackPermanentError(SlackApiError):
    pass


class SlackRateLimited(SlackError):
    def __init__(self, message: str, *, retry_after: float):
        super().__init__(message, error="ratelimited", status=429)
        self.retry_after = retry_after


class SlackTransientError(SlackError):
    pass


def _retry_after(headers) -> float:
    value = None
    for name, v in (headers or {}).items():
        if name.lower() == "retry-after":
            value = v[0] if isinstance(v, (list, tuple)) else v
    try:
        return max(1.0, float(value))
    except (TypeError, ValueError):
        return 30.0


def translate(exc: Exception) -> SlackError:
    """Map an exception raised by slack_sdk to one of ours."""
    if isinstance(exc, SdkApiError):
        response = exc.response
        status = getattr(response, "status_code", None)
        error = ""
        try:
            error = response.get("error") or ""
        except Exception:  # a non-JSON body (e.g. a proxy's 502 page)
            error = ""
        if status == 429 or error == "ratelimited":
            return SlackRateLimited(f"Slack rate limit ({exc})", retry_after=_retry_after(response.headers))
        if status is not None and status >= 500:
            return SlackTransientError(f"Slack answered HTTP {status}", error=error, status=status)
        if error in PERMANENT_ERRORS:
            return SlackPermanentError(f"Slack refused: {error}", error=error, status=status)
        if error in ("internal_error", "fatal_error", "service_unavailable", "request_timeout"):
            return SlackTransientError(f"Slack failed: {error}", error=error, status=status)
        return SlackApiError(f"Slack refused: {error or exc}", error=error, status=status)
    if isinstance(exc, urllib.error.HTTPError):
        if exc.code == 429:
            return SlackRateLimited("Slack rate limit", retry_after=_retry_after(dict(exc.headers or {})))
        return SlackTransientError(f"Slack answered HTTP {exc.code}", status=exc.code)
    return SlackTransientError(f"Could not reach Slack: {exc!r}")


NETWORK_ERRORS = (SlackRequestError, urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError)


def call_slack(fn, **kwargs):
    """Run ``fn(**kwargs)`` (a WebClient method) and raise our typed errors."""
    try:
        return fn(**kwargs)
    except SdkApiError as exc:
        raise translate(exc) from exc
    except NETWORK_ERRORS as exc:
        raise translate(exc) from exc
