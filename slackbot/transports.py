"""Where outbox messages go. One transport, typed errors (healthchecks' transports).

Until a Slack workspace is connected (the Slack issue), the console transport
prints each message, so the embedded mode shows what Slack would receive.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("incidentio.slack")


class TransportError(Exception):
    """Delivery failed. ``permanent`` errors are not retried."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after


class ConsoleTransport:
    def send(self, message) -> None:
        incident = message.incident
        where = f"#{incident.reference.lower()}" if incident and message.destination == "incident_channel" else message.destination
        logger.info("[slack → %s] %s", where, message.text)


def get_transport():
    return ConsoleTransport()
