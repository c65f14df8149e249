"""Incident references (``INC-12``): the one rule for reading one, on every surface.

A reference is 1 to 9 digits, optionally after ``INC-`` or ``INC`` in any
case, with any whitespace around it: ``INC-12``, ``inc-12``, ``inc12`` and
``12`` all name incident number 12. Ten digits or more name no incident (and
would overflow the column). The dashboard (merge into, the list's search), the
API (wherever an incident id is taken) and Slack (``/inc status INC-12``) read
references with :func:`parse_reference` and look them up with
``incidentio.incidents.selectors.incident_get_by_reference`` / ``incident_lookup``.
"""

from __future__ import annotations

import re

_REFERENCE = re.compile(r"^\s*(?:inc-?)?(\d{1,9})\s*$", re.IGNORECASE)


def parse_reference(text: object) -> int | None:
    """The incident number ``text`` names, or None when it is not a reference."""
    if not isinstance(text, str):
        return None
    match = _REFERENCE.match(text)
    return int(match.group(1)) if match else None
