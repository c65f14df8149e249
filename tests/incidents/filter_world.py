"""The four Acme incidents the incidents-list filter tests choose between,
shared by the test-client tests and the Chromium ones.

INC-1 "Checkout is slow"   Investigating (live), Minor, reported by the responder
INC-2 "Search glitch"      Triage, no severity, reported by the owner
INC-3 "Checkout is down"   Fixing (live), Critical, reported by the owner, led by the responder
INC-4 "Payments timeouts"  Documenting (learning), Major, learning flow running, by the owner
"""

from __future__ import annotations

from incidentio.common.actors import Actor
from incidentio.incidents.models import Incident, IncidentStatus, LearningFlowState, Severity
from incidentio.incidents.services.incidents import incident_declare, incident_edit


def declare_four_incidents(org, *, owner, responder) -> None:
    by_owner, by_responder = Actor.for_user(owner), Actor.for_user(responder)

    def severity(name):
        return Severity.objects.get(org=org, name=name)

    def status(name):
        return IncidentStatus.objects.get(org=org, name=name)

    incident_declare(org=org, actor=by_responder, name="Checkout is slow", severity=severity("Minor"))
    incident_declare(org=org, actor=by_owner, name="Search glitch", triage=True)
    down = incident_declare(org=org, actor=by_owner, name="Checkout is down", severity=severity("Critical"),
                            lead=responder)
    incident_edit(incident=down, actor=by_owner, status=status("Fixing"))
    payments = incident_declare(org=org, actor=by_owner, name="Payments timeouts", severity=severity("Major"))
    Incident.objects.filter(pk=payments.pk).update(status=status("Documenting"), learning_flow=LearningFlowState.RUNNING)
