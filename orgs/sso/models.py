"""An org's identity provider, the e-mail domains it claims, and break-glass sign-ins."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from incidentio.common.encryption import EncryptedTextField
from orgs.models import Organization, Role, User


class Protocol(models.TextChoices):
    OIDC = "oidc", "OpenID Connect"
    SAML = "saml", "SAML 2.0"


#: Roles single sign-on may give. Never owner: owners are chosen in the product.
#: ``NO_ACCESS`` as the default role means only people in a mapped group get in.
NO_ACCESS = ""
MAPPABLE_ROLES = [role for role in Role if role != Role.OWNER]
MAPPABLE_ROLE_CHOICES = [(role.value, role.label) for role in MAPPABLE_ROLES]
SSO_ROLE_CHOICES = [(NO_ACCESS, "No access (only mapped groups)"), *MAPPABLE_ROLE_CHOICES]


class OrgSSO(models.Model):
    """One org's identity provider. allauth sees it as one ``SocialApp``
    (built in memory by ``orgs.sso.social_apps``; the secrets stay encrypted here)."""

    #: Names the provider app in URLs the IdP is told (callback, ACS, metadata):
    #: stable when the org's slug changes, and says nothing about the org.
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="sso")
    protocol = models.CharField(max_length=8, choices=Protocol.choices)

    # OpenID Connect: discovery at <issuer>/.well-known/openid-configuration.
    oidc_issuer = models.URLField(max_length=500, blank=True)
    oidc_client_id = models.CharField(max_length=255, blank=True)
    oidc_client_secret = EncryptedTextField(blank=True, default="")

    # SAML 2.0: the IdP as read from its metadata (a URL, or XML pasted in),
    # parsed when saved so signing in never waits on the metadata URL.
    saml_metadata_url = models.URLField(max_length=500, blank=True)
    saml_idp_entity_id = models.CharField(max_length=500, blank=True)
    saml_idp_sso_url = models.URLField(max_length=500, blank=True)
    saml_idp_x509cert = models.TextField(blank=True)
    #: Optional: our (the SP's) key and certificate, to sign requests when the IdP asks for it.
    saml_sp_private_key = EncryptedTextField(blank=True, default="")
    saml_sp_x509cert = models.TextField(blank=True)

    #: Off until an owner switches it on (after a test sign-in, ``tested_at``).
    enabled = models.BooleanField(default=False)
    #: Members may not use a password for this org (owners keep break-glass).
    enforced = models.BooleanField(default=False)
    #: The role a first SSO sign-in gets, unless a group maps to one.
    default_role = models.CharField(max_length=16, choices=SSO_ROLE_CHOICES, default=Role.RESPONDER, blank=True)
    #: The claim (OIDC) or attribute (SAML) that lists the person's groups.
    groups_claim = models.CharField(max_length=255, default="groups")
    #: {"incident-admins": "admin", …}: applied at every sign-in.
    group_roles = models.JSONField(default=dict, blank=True)

    #: When a test sign-in last succeeded with the settings as they are.
    tested_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "single sign-on configuration"

    def __str__(self) -> str:
        return f"{self.get_protocol_display()} for {self.org}"


class ClaimedDomain(models.Model):
    """An e-mail domain whose addresses sign in through this org's IdP. One org per domain."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="claimed_domains")
    domain = models.CharField(max_length=253, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class BreakGlassSignIn(models.Model):
    """An owner's password sign-in to an org that requires SSO: the audit list.

    Requested with the password, confirmed from a link e-mailed to the owner
    (``token_hash``, single use, short-lived); both moments are kept.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="break_glass_sign_ins")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="break_glass_sign_ins")
    token_hash = models.CharField(max_length=64, unique=True)
    requested_at = models.DateTimeField(default=timezone.now)
    requested_ip = models.GenericIPAddressField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"break-glass {self.user} → {self.org} at {self.requested_at:%Y-%m-%d %H:%M}"
