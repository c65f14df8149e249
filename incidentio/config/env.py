"""Typed reads of environment variables for settings.

Every reader raises ``ImproperlyConfigured`` naming the variable when its value is
malformed, so a bad deployment fails at start instead of misbehaving later.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name} must be one of 1/0, true/false, yes/no, on/off; got {value!r}."
    )


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer; got {value!r}.") from None
    if number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {number}.")
    return number


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number; got {value!r}.") from None
    if not number >= minimum:  # also refuses nan
        raise ImproperlyConfigured(f"{name} must be at least {minimum}; got {value}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise ImproperlyConfigured(f"{name} is a comma-separated list with an empty item: {value!r}.")
    return items


def env_url(name: str, *, schemes: tuple[str, ...], default: str | None = None) -> str | None:
    """A URL whose scheme is one of ``schemes`` and which names a host."""
    value = _raw(name)
    if value is None:
        return default
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.hostname:
        allowed = ", ".join(f"{s}://" for s in schemes)
        raise ImproperlyConfigured(f"{name} must be a URL starting with {allowed} and naming a host.")
    try:
        parsed.port  # noqa: B018 - raises ValueError on a non-numeric port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port.") from None
    return value


def env_database(name: str, default: Callable[[], str]) -> dict:
    """A Django DATABASES entry from a URL such as ``postgres://user@host:5432/db``.

    ``default`` is called only when the variable is unset: it may start a server.
    """
    import dj_database_url

    value = _raw(name) or default()
    scheme = urlparse(value).scheme
    if scheme not in ("postgres", "postgresql"):
        raise ImproperlyConfigured(
            f"{name} must be a postgres:// URL (Postgres is the only database incidentio supports); got scheme {scheme!r}."
        )
    try:
        config = dj_database_url.parse(value, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is malformed: {exc}") from None
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{name} must name a database, e.g. postgres://host:5432/incidentio.")
    return config


def env_fernet_keys(name: str) -> list[str]:
    """Comma-separated Fernet keys (``Fernet.generate_key()``), or ``[]`` when unset.

    The error says which item is wrong but never echoes a key: it is a secret.
    """
    from cryptography.fernet import Fernet

    value = _raw(name)
    keys = [] if value is None else [key.strip() for key in value.split(",")]
    for position, key in enumerate(keys, start=1):
        if not key:
            raise ImproperlyConfigured(f"{name}: key {position} of {len(keys)} is empty (a stray comma?).")
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: key {position} of {len(keys)} is not a Fernet key (32 url-safe base64-encoded bytes); "
                'generate one with python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())".'
            ) from None
    return keys
