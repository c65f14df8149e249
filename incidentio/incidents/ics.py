"""Calendar invites (.ics) for debriefs, built with the icalendar library."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.urls import reverse
from icalendar import Calendar, Event, vCalAddress, vText


def debrief_invite(debrief, *, incident) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//incidentio//debrief//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")

    url = settings.SITE_URL.rstrip("/") + reverse(
        "incident_detail", kwargs={"org_slug": incident.org.slug, "incident_id": incident.public_id}
    )
    event = Event()
    # A stable UID lets calendars update the event when the invite is downloaded again.
    event.add("uid", f"debrief-{debrief.public_id}@incidentio")
    event.add("dtstamp", datetime.now(UTC))
    event.add("dtstart", debrief.scheduled_at)
    event.add("dtend", debrief.ends_at)
    event.add("summary", f"Debrief: {incident.reference} {incident.name}")
    event.add("description", f"Incident debrief for {incident.reference} {incident.name}.\n{url}")
    event.add("url", url)
    if debrief.location:
        event["location"] = vText(debrief.location)
    for attendee in debrief.attendees.all():
        address = vCalAddress(f"mailto:{attendee.email}")
        address.params["cn"] = vText(attendee.display_name)
        address.params["role"] = vText("REQ-PARTICIPANT")
        event.add("attendee", address, encode=0)
    calendar.add_component(event)
    return calendar.to_ical()
