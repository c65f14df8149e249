"""Fixtures shared by the learning-flow tests."""

from __future__ import annotations

import pytest

from orgs.models import ApiKeyRole
from orgs.services import api_key_create
from tests.api_learning.conftest import ApiClient


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """``commit(fn, *args)``: call ``fn`` and run the on-commit hooks it queued, as a
    real commit would. Outside it, a hook is dropped: an advance job that was lost."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture
def editor(acme) -> ApiClient:
    """An API client holding a viewer and incident-editor key of Acme."""
    _key, token = api_key_create(org=acme, name="tests", roles=[ApiKeyRole.VIEWER, ApiKeyRole.INCIDENT_EDITOR],
                                 created_by=None)
    return ApiClient(token)
