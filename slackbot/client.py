"""The one place that builds a Slack WebClient (STYLE "Slack").

The base URL comes from ``settings.SLACK_API_URL`` so tests and demos talk to a
fake Slack over HTTP. No retry handlers are installed: a rate-limited or
failing call raises at once and the caller (a Celery task) reschedules itself
instead of sleeping in the worker.
"""

from __future__ import annotations

from django.conf import settings
from slack_sdk import WebClient

#: Seconds a Web API call may take. Inbound listeners that must call Slack
#: inline (resolving an unknown user) pass a shorter one.
DEFAULT_TIMEOUT = 10


def slack_client(token: str | None = None, *, timeout: float = DEFAULT_TIMEOUT) -> WebClient:
    client = WebClient(token=token, base_url=settings.SLACK_API_URL, timeout=timeout)
    client.retry_handlers = []  # retries are the Celery task's job, never a sleep here
    return client


def workspace_client(workspace, *, timeout: float = DEFAULT_TIMEOUT) -> WebClient:
    return slack_client(workspace.bot_token, timeout=timeout)
