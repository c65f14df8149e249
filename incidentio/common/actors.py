"""Who did something: a member, an API key, a Slack user or the system."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class ActorKind(models.TextChoices):
    """The kinds of actor; the timeline stores one per event (``TimelineEvent.actor_kind``)."""

    USER = "user", "User"
    API_KEY = "api_key", "API key"
    SLACK_USER = "slack_user", "Slack user"
    SYSTEM = "system", "System"


@dataclass(frozen=True)
class Actor:
    kind: str
    user: object | None = None  # orgs.models.User
    label: str = ""
    ref: str = ""

    @classmethod
    def for_user(cls, user) -> Actor:
        return cls(kind=ActorKind.USER, user=user, label=user.email)

    @classmethod
    def system(cls) -> Actor:
        return cls(kind=ActorKind.SYSTEM, label="incidentio")

    @classmethod
    def for_api_key(cls, *, key_id: str, name: str) -> Actor:
        return cls(kind=ActorKind.API_KEY, label=name, ref=key_id)

    @classmethod
    def for_slack_user(cls, *, slack_user_id: str, name: str, user=None) -> Actor:
        return cls(kind=ActorKind.SLACK_USER, user=user, label=name, ref=slack_user_id)

    @property
    def user_or_none(self):
        return self.user
