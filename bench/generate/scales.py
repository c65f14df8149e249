"""How much data each scale makes, and how incidents spread over lifecycle states.

An incident's *bucket* names where it ends up (status category and learning
flow state); the story generator (``incidents.py``) writes the history that
leads there.
"""

from __future__ import annotations

from dataclasses import dataclass

# Buckets: where an incident is now.
TRIAGE = "triage"  # in Triage
LIVE = "live"  # in a live status
BURST = "burst"  # live (Monitoring), Critical: closing it enters the learning flow
FLOW = "flow"  # first learning status, exactly one required task outstanding
DOCUMENTING = "documenting"  # running, first learning status
REVIEWING = "reviewing"  # running, second learning status
COMPLETED = "completed"  # went through every learning status; Closed
OPTED_OUT_AT_CLOSE = "opted_out_at_close"  # closed without the flow, with a reason
OPTED_OUT_IN_FLOW = "opted_out_in_flow"  # left the flow part-way, with a reason
CLOSED = "closed"  # closed before the org adopted the learning flow (not_entered)
DECLINED = "declined"
MERGED = "merged"
CANCELED = "canceled"

RUNNING = (FLOW, DOCUMENTING, REVIEWING)
ENTERED_FLOW = (FLOW, DOCUMENTING, REVIEWING, COMPLETED, OPTED_OUT_IN_FLOW)

#: (bucket, share of the big org's incidents, minimum count). CLOSED takes the rest.
BIG_ORG_MIX = [
    (TRIAGE, 0.003, 1),
    (LIVE, 0.010, 2),
    (DOCUMENTING, 0.025, 2),
    (REVIEWING, 0.030, 2),
    (COMPLETED, 0.310, 3),
    (OPTED_OUT_AT_CLOSE, 0.075, 1),
    (OPTED_OUT_IN_FLOW, 0.030, 2),
    (DECLINED, 0.030, 1),
    (MERGED, 0.010, 1),
    (CANCELED, 0.010, 1),
]

#: Relative weights for the small orgs' incidents (drawn per incident).
SMALL_ORG_MIX = [
    (TRIAGE, 5), (LIVE, 8), (DOCUMENTING, 6), (REVIEWING, 5), (COMPLETED, 25), (OPTED_OUT_AT_CLOSE, 12),
    (OPTED_OUT_IN_FLOW, 3), (CLOSED, 25), (DECLINED, 5), (MERGED, 2), (CANCELED, 4),
]

DAY = 86_400
#: The org adopted the learning flow this many days before the anchor: older
#: incidents closed without it (``not_entered``).
ADOPTION_DAYS = 540
HISTORY_DAYS = 1095  # about three years

#: When incidents of each bucket were reported: (min, max) days before the anchor,
#: and whether recent dates are more likely (running flows pile up recently).
WINDOWS = {
    CLOSED: (ADOPTION_DAYS, HISTORY_DAYS, False),
    COMPLETED: (40, ADOPTION_DAYS, False),
    OPTED_OUT_AT_CLOSE: (2, ADOPTION_DAYS, False),
    OPTED_OUT_IN_FLOW: (10, ADOPTION_DAYS, False),
    DOCUMENTING: (3, 270, True),
    REVIEWING: (6, 270, True),
    FLOW: (2, 60, False),
    DECLINED: (1, HISTORY_DAYS, False),
    MERGED: (1, HISTORY_DAYS, False),
    CANCELED: (1, HISTORY_DAYS, False),
    LIVE: (0.05, 14, True),
    BURST: (0.05, 0.3, False),
    TRIAGE: (0.01, 3, True),
}


@dataclass(frozen=True)
class Scale:
    name: str
    incidents: int  # in the big org
    members: int  # of the big org
    small_orgs: int
    small_org_incidents: tuple[int, int]  # per small org, inclusive range
    flow_incidents: int
    burst_incidents: int
    #: Incidents the designated assignee leads: (documenting, reviewing, completed),
    #: i.e. 4, 8 and 8 tasks each with the default flow.
    assignee_incidents: tuple[int, int, int]
    timeline_events: int = 200


SCALES = {
    "full": Scale("full", 100_000, 200, 500, (15, 25), 200, 1_000, (12, 12, 20)),
    "smoke": Scale("smoke", 1_000, 20, 5, (15, 25), 20, 50, (3, 3, 4)),
    "tiny": Scale("tiny", 60, 8, 3, (4, 6), 3, 3, (1, 1, 1)),
}


def big_org_counts(scale: Scale) -> dict[str, int]:
    """How many of the big org's incidents end in each bucket (sums to ``scale.incidents``)."""
    counts = {FLOW: scale.flow_incidents, BURST: scale.burst_incidents}
    for bucket, share, minimum in BIG_ORG_MIX:
        counts[bucket] = max(minimum, round(share * scale.incidents))
    docs, reviews, completed = scale.assignee_incidents
    counts[DOCUMENTING] = max(counts[DOCUMENTING], docs + 1)
    counts[REVIEWING] = max(counts[REVIEWING], reviews + 1)
    counts[COMPLETED] = max(counts[COMPLETED], completed + 2)
    rest = scale.incidents - sum(counts.values())
    if rest < 1:
        raise ValueError(f"scale {scale.name}: {scale.incidents} incidents are too few for its fixtures")
    counts[CLOSED] = rest
    return counts
