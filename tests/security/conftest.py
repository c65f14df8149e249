"""Reuse the API fixtures (keys, clients, declare) in the security tests."""

from tests.api.conftest import api, api_key, declare  # noqa: F401
