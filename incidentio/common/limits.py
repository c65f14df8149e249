"""How long the text people write may be, in characters: the one place the
models' max_length, the forms, the API serializers and the services read.

The services enforce every limit (``check_length``), so the dashboard, the API
and Slack refuse the same over-long text with the same message and write
nothing; a form's or serializer's max_length is only an earlier, nicer stop.
The numbers are far above anything a team writes and low enough that one
field cannot make a page slow to render or a row costly to keep.

A new limit that belongs to one model field alone can instead be that
field's ``max_length``, which the form, the serializer and the service read
from the field (docs/adding-a-feature.md, "A field on the incident"). The
limits here are shared by several texts, or were set before that.
"""

from __future__ import annotations

from incidentio.common.errors import ServiceError

INCIDENT_NAME = 200
#: Summaries and updates are rendered as markdown on every view of the incident
#: page; at this length each one stays in the render cache
#: (incidentio.common.markdown.CACHED_TEXT_MAX_CHARS).
INCIDENT_SUMMARY = 20_000
UPDATE_MESSAGE = 20_000
POSTMORTEM = 200_000
#: Why an incident is declined or canceled, why the learning flow is skipped,
#: why a follow-up or a task is not done.
REASON = 5_000
DEBRIEF_LOCATION = 300
FOLLOW_UP_TITLE = 200
FOLLOW_UP_DESCRIPTION = 20_000
#: Names of statuses, severities and incident roles.
CONFIG_NAME = 60
ROLE_SHORTFORM = 30
TASK_TITLE = 200
#: Descriptions of statuses and severities; instructions of roles and task templates.
CONFIG_TEXT = 20_000
ORG_NAME = 100
API_KEY_NAME = 100
USER_NAME = 150


def check_length(value: str, *, limit: int, field: str, what: str) -> str:
    """``value`` if it is at most ``limit`` characters; else a ServiceError on
    ``field`` naming ``what`` ("the summary") and both lengths."""
    if len(value) > limit:
        raise ServiceError(
            f"{what[:1].upper()}{what[1:]} can be at most {limit:,} characters; this one has {len(value):,}.",
            field=field,
        )
    return value
