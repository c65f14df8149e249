"""Users, organizations, memberships and invitations.

Everything except a User belongs to exactly one Organization. Objects are
addressed in URLs by opaque ``public_id``s, never by their integer keys.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("A user needs an e-mail address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


def validate_single_line(value: str) -> None:
    """Refuse line breaks and other control characters in a name.

    Names go into e-mail subjects ("Ann invited you to Acme"), where Django
    refuses a CR or LF (BadHeaderError: a 500 for the inviter, and a header
    injection if it did not), and into Slack and calendar text.
    """
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise ValidationError(
            "Use a single line, without line breaks, tabs or other control characters.",
            code="control_characters",
        )


class User(AbstractUser):
    """A person. Signs in with e-mail; may belong to many organizations."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField("e-mail address", unique=True)
    name = models.CharField(max_length=150, blank=True, validators=[validate_single_line])
    #: The IANA time zone the dashboard shows times in; blank: the browser's
    #: (``orgs.time_zones``).
    time_zone = models.CharField(max_length=64, blank=True, default="")

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    def __str__(self) -> str:
        return self.email

    @property
    def display_name(self) -> str:
        return self.display_name_of(self.name, self.email)

    @staticmethod
    def display_name_of(name: str, email: str) -> str:
        """For rows read without a User instance (``values()``)."""
        return name or email.split("@")[0]

    @property
    def initials(self) -> str:
        parts = self.display_name.replace(".", " ").split()
        return "".join(p[0] for p in parts[:2]).upper() or "?"


# Top-level URL prefixes an organization slug may never take.
RESERVED_SLUGS = frozenset(
    {
        "accounts", "account", "admin", "api", "slack", "static", "media",
        "invitations", "organizations", "healthz", "settings", "login",
        "logout", "signup", "new", "www", "help", "docs",
    }
)

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1–50 lowercase letters, digits and hyphens, not starting or ending with a hyphen.",
)


def default_working_days() -> list[int]:
    return [0, 1, 2, 3, 4]


class Organization(models.Model):
    slug = models.CharField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=100, validators=[validate_single_line])
    created_at = models.DateTimeField(default=timezone.now)
    #: The org's working calendar (``orgs.calendar``): due dates count its
    #: working days in its time zone, skipping its holidays.
    time_zone = models.CharField(max_length=64, default="UTC")
    #: ISO weekday numbers minus one (Monday is 0), as ``date.weekday()``.
    working_days = models.JSONField(default=default_working_days)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    # Ordered from most to least powerful; see ROLE_RANK.
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    RESPONDER = "responder", "Responder"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.RESPONDER: 1, Role.ADMIN: 2, Role.OWNER: 3}

#: The least role that may write: declare and change incidents, their documents
#: and learning tasks. The one rule for members, on the dashboard
#: (``incidentio.incidents.views.base``) and in Slack (``slackbot.listeners.common``); an
#: API key is another kind of actor, with ``ApiKeyRole``s (``ApiKey.may_write``).
WRITER_ROLE = Role.RESPONDER


class Membership(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RESPONDER)
    created_at = models.DateTimeField(default=timezone.now)
    # When this person last opened the org in a browser (orgs.sessions.note_used):
    # where a plain sign-in lands. Refreshed at most hourly per browser.
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "user"], name="membership_unique_user_per_org"),
        ]
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.user} in {self.org} ({self.role})"

    def has_role(self, at_least: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(at_least)]

    @property
    def is_admin(self) -> bool:
        return self.has_role(Role.ADMIN)

    @property
    def may_write(self) -> bool:
        """May change incidents (``WRITER_ROLE``); viewers only read."""
        return self.has_role(WRITER_ROLE)


def hash_invitation_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class Invitation(models.Model):
    """An e-mail invited to join an org. Only the token's hash is stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.RESPONDER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["org", "email"])]

    def __str__(self) -> str:
        return f"{self.email} → {self.org}"

    @property
    def state(self) -> InvitationState:
        if self.accepted_at:
            return InvitationState.ACCEPTED
        if self.revoked_at:
            return InvitationState.REVOKED
        if self.expires_at <= timezone.now():
            return InvitationState.EXPIRED
        return InvitationState.PENDING

    @property
    def is_pending(self) -> bool:
        return self.state == InvitationState.PENDING


class ApiKeyRole(models.TextChoices):
    VIEWER = "viewer", "Viewer (read everything)"
    INCIDENT_EDITOR = "incident_editor", "Incident editor (declare, edit, close, act on tasks)"
    MANAGE_SETTINGS = "manage_settings", "Manage settings (statuses, severities, roles, learning flow)"
    POST_INCIDENT_FLOW_OPT_OUT = "post_incident_flow_opt_out", "Opt incidents out of the learning flow"


#: What the dashboard calls each API-key role, and what it allows; the API and the
#: ``create_api_key`` command use the values (``viewer`` …).
API_KEY_ROLE_NAMES: dict[str, tuple[str, str]] = {
    ApiKeyRole.VIEWER: ("Viewer", "Reads everything."),
    ApiKeyRole.INCIDENT_EDITOR: ("Incident editor", "Declares, edits and closes incidents, and acts on their tasks."),
    ApiKeyRole.MANAGE_SETTINGS: ("Settings manager", "Changes statuses, severities, roles and the learning flow."),
    ApiKeyRole.POST_INCIDENT_FLOW_OPT_OUT: ("Learning-flow opt-out", "Takes incidents out of the learning flow."),
}


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ApiKey(models.Model):
    """A bearer key for the public API. Only the token's hash is stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    roles = models.JSONField(default=list)
    #: The first characters of the token, shown so people can tell keys apart.
    token_prefix = models.CharField(max_length=16)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.org})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def role_names(self) -> list[str]:
        """The key's roles as the dashboard names them (``API_KEY_ROLE_NAMES``), least first."""
        return [name for role, (name, _) in API_KEY_ROLE_NAMES.items() if role in self.roles]

    @property
    def may_write(self) -> bool:
        """May change incidents and learning tasks: what a member's ``may_write``
        is for a key (``incidentio.api.permissions.KeyRoles``' default write role)."""
        return self.has_role(ApiKeyRole.INCIDENT_EDITOR)


class Holiday(models.Model):
    """A day the org does not work: due dates counted in business days skip it."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100, blank=True, validators=[validate_single_line])

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["org", "date"], name="holiday_unique_date_per_org")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()
