"""What the story generator knows about an organization: its configuration as
the product's own setup services created it, read back once, and its people."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Status:
    id: int
    public_id: str
    name: str
    category: str


@dataclass
class Severity:
    id: int
    name: str
    rank: int


@dataclass
class Role:
    id: int
    public_id: str
    name: str
    kind: str


@dataclass
class Template:
    id: int
    kind: str
    title: str
    instructions: str
    required: bool
    assignee_role_id: int | None
    target_role_id: int | None


@dataclass
class Member:
    user_id: int
    email: str
    name: str
    role: str  # orgs.models.Role value
    membership_public_id: str = ""
    slack_id: str | None = None


@dataclass
class Org:
    id: int
    slug: str
    name: str
    triage: Status
    live: list[Status]
    learning: list[Status]
    closed: Status
    declined: Status
    merged: Status
    canceled: Status
    severities: list[Severity]  # by rank
    auto_enter_rank: int | None
    lead_role: Role
    reporter_role: Role | None
    templates: dict[int, list[Template]]  # learning status id → templates in order
    members: list[Member] = field(default_factory=list)
    #: Members who respond (not viewers), and the cumulative weights leads are drawn with.
    actors: list[Member] = field(default_factory=list)
    lead_pool: list[Member] = field(default_factory=list)
    lead_weights: list[float] = field(default_factory=list)
    slack_domain: str | None = None  # a connected workspace: channels, links, task messages
    integration: tuple[str, str] | None = None  # an API key that declares incidents: (name, key id)
    big: bool = False
    default_type_id: int = 0  # every generated incident is of the org's default type
    default_flow_id: int = 0  # and runs the default flow, whose statuses are ``learning``, in order
