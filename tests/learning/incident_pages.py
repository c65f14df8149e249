"""Incidents for the learning pages' tests: declared, closed into the flow, and their page URLs."""

from __future__ import annotations

from incidentio.common.actors import Actor
from incidentio.incidents.models import Severity
from incidentio.incidents.services.incidents import incident_declare
from learning.services.flow import incident_close


def declare(org, user, severity="Minor", **kwargs):
    return incident_declare(
        org=org, actor=Actor.for_user(user), name="Queue backlog",
        severity=Severity.objects.get(org=org, name=severity), lead=user, **kwargs,
    )


def page_url(incident, suffix=""):
    return f"/{incident.org.slug}/incidents/{incident.public_id}/{suffix}"


def in_flow(org, user):
    """An incident of ``org`` closed into its learning flow."""
    return incident_close(incident=declare(org, user), actor=Actor.for_user(user), learning_flow="run")
