"""An owner's changes to their org's single sign-on (Settings → Single sign-on).

Each function checks one rule and raises ``ConfigurationError`` with a
sentence for the owner, having written nothing; the views stay thin.

**What a change to the identity provider does.** Any change to how the IdP is
reached — the protocol, OpenID Connect's issuer, client id or secret, SAML's
IdP entity id, sign-in URL or certificate, our SP signing key — clears
``tested_at`` *and switches single sign-on off* (which lifts "require SSO").
Left on, every member's next sign-in would go through settings nobody has
seen work: one typo in a secret would lock the whole org out (only owners
have break-glass). Off, members sign in as they did before SSO until an owner
runs a test sign-in with the new settings and switches it on again. Saving
the same values again changes nothing and keeps SSO as it was.

**A change of identity provider** (the protocol, the OIDC issuer, the SAML
IdP entity id) also deletes people's links to the old one (allauth's
``SocialAccount`` rows, keyed by our ``public_id``): a ``uid`` is only unique
within the IdP that issued it, so the new IdP's "alice" would otherwise sign
in as the old IdP's Alice. A new secret, client id or certificate for the
same IdP keeps them.
"""

from __future__ import annotations

import re

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidentio.common.errors import ServiceError
from orgs.models import Membership, Organization
from orgs.sso import idp_fetch, saml_metadata
from orgs.sso.models import MAPPABLE_ROLES, NO_ACCESS, SSO_ROLE_CHOICES, ClaimedDomain, OrgSSO, Protocol
from orgs.sso.social_apps import DISCOVERY_KEYS, oidc_discovery_url


class ConfigurationError(ServiceError):
    """The owner's change was refused; nothing was written."""


#: Fields whose change means the IdP is reached differently (see the module docstring).
_HOW_IDP_IS_REACHED = (
    "protocol", "oidc_issuer", "oidc_client_id", "oidc_client_secret", "saml_idp_entity_id",
    "saml_idp_sso_url", "saml_idp_x509cert", "saml_sp_private_key", "saml_sp_x509cert",
)

#: Fields that say which IdP it is: a ``uid`` means someone only within it (see the module docstring).
_WHO_THE_IDP_IS = ("protocol", "oidc_issuer", "saml_idp_entity_id")

#: Mail providers anyone can have an address at: claiming one would send
#: every stranger with such an address to this org's identity provider.
PUBLIC_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "live.com", "msn.com",
    "yahoo.com", "yahoo.co.uk", "ymail.com", "icloud.com", "me.com", "mac.com", "proton.me", "protonmail.com",
    "pm.me", "aol.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "yandex.ru", "yandex.com", "mail.ru",
    "zoho.com", "fastmail.com", "tutanota.com", "hey.com", "qq.com", "163.com",
})
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def org_sso(org: Organization) -> OrgSSO | None:
    return OrgSSO.objects.filter(org=org).first()


# --- The identity provider -----------------------------------------------------------------------

def save_oidc(*, org: Organization, issuer: str, client_id: str, client_secret: str) -> OrgSSO:
    """Use the OpenID Connect provider at ``issuer``. Its discovery document is
    fetched now: an issuer that cannot be reached, whose document is not an
    OpenID Connect one, or that names another issuer is refused. A blank
    ``client_secret`` keeps the saved one (it is never shown again); the first
    time it is required."""
    row = org_sso(org) or OrgSSO(org=org)
    issuer = issuer.strip()
    client_id = client_id.strip()
    secret = client_secret.strip() or (row.oidc_client_secret if row.protocol == Protocol.OIDC else "")
    if not client_id:
        raise ConfigurationError("Enter the client ID the identity provider gave this app.", field="client_id")
    if not secret:
        raise ConfigurationError("Enter the client secret the identity provider gave this app.",
                                 field="client_secret")
    issuer = discovered_issuer(issuer)
    _clear_saml(row)
    row.protocol = Protocol.OIDC
    row.oidc_issuer, row.oidc_client_id, row.oidc_client_secret = issuer, client_id, secret
    return _save_idp(row)


def discovered_issuer(issuer: str) -> str:
    """``issuer`` as its own discovery document states it, or ``ConfigurationError``.

    OpenID Connect Discovery requires the document's ``issuer`` to be the URL
    it was found under; allauth checks every ID token's ``iss`` against it, so
    a mismatch would fail every sign-in later: it is refused now. A trailing
    slash is the only difference forgiven (the document's spelling is kept).
    """
    url = oidc_discovery_url(issuer)
    try:
        response = idp_fetch.get(url)
    except idp_fetch.IdpUnreachable as exc:
        raise ConfigurationError(str(exc), field="issuer") from None
    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, dict) or not all(isinstance(document.get(key), str) for key in DISCOVERY_KEYS):
        raise ConfigurationError(f"{url} is not an OpenID Connect discovery document (it needs "
                                 f"{', '.join(DISCOVERY_KEYS)}). Check the issuer URL.", field="issuer")
    stated = document["issuer"]
    if stated.rstrip("/") != issuer.rstrip("/"):
        raise ConfigurationError(f"The identity provider says its issuer is {stated}, not {issuer}. "
                                 f"Enter {stated} as the issuer URL.", field="issuer")
    return stated


def save_saml(*, org: Organization, metadata_url: str = "", metadata_xml: str = "", sp_private_key: str = "",
              sp_x509cert: str = "", remove_sp_key: bool = False) -> OrgSSO:
    """Use the SAML IdP that ``metadata_url`` (fetched now) or the pasted
    ``metadata_xml`` describes. Optionally our own signing key and certificate,
    for IdPs that want signed requests: a blank key keeps the saved one
    (it is never shown again); ``remove_sp_key`` stops signing."""
    row = org_sso(org) or OrgSSO(org=org)
    metadata_url, metadata_xml = metadata_url.strip(), metadata_xml.strip()
    if bool(metadata_url) == bool(metadata_xml):
        raise ConfigurationError("Give the IdP's metadata URL, or paste its metadata XML: one of the two.",
                                 field="metadata_url")
    try:
        idp = saml_metadata.parse(saml_metadata.fetch(metadata_url) if metadata_url else metadata_xml)
    except saml_metadata.MetadataError as exc:
        raise ConfigurationError(str(exc), field="metadata_url" if metadata_url else "metadata_xml") from None
    key, cert = _sp_key_pair(row, sp_private_key.strip(), sp_x509cert.strip(), remove=remove_sp_key)
    _clear_oidc(row)
    row.protocol = Protocol.SAML
    row.saml_metadata_url = metadata_url
    row.saml_idp_entity_id, row.saml_idp_sso_url, row.saml_idp_x509cert = idp.entity_id, idp.sso_url, idp.x509cert
    row.saml_sp_private_key, row.saml_sp_x509cert = key, cert
    return _save_idp(row)


def _sp_key_pair(row: OrgSSO, key: str, cert: str, *, remove: bool) -> tuple[str, str]:
    """The SP key and certificate to keep: the new pair, the saved one, or none."""
    if remove:
        return "", ""
    saved_key = row.saml_sp_private_key if row.protocol == Protocol.SAML else ""
    key = key or saved_key
    cert = cert or (row.saml_sp_x509cert if row.protocol == Protocol.SAML else "")
    if not key and not cert:
        return "", ""
    if not key:
        raise ConfigurationError("Paste the private key that goes with this certificate.", field="sp_private_key")
    if not cert:
        raise ConfigurationError("Paste the certificate that goes with this private key.", field="sp_x509cert")
    try:
        private = serialization.load_pem_private_key(key.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigurationError("The private key is not an unencrypted PEM private key.",
                                 field="sp_private_key") from None
    try:
        public = x509.load_pem_x509_certificate(cert.encode()).public_key()
    except ValueError:
        raise ConfigurationError("The certificate is not a PEM certificate.", field="sp_x509cert") from None
    der = serialization.PublicFormat.SubjectPublicKeyInfo
    if private.public_key().public_bytes(serialization.Encoding.DER, der) != \
            public.public_bytes(serialization.Encoding.DER, der):
        raise ConfigurationError("The certificate is not the private key's: paste the pair that belongs together.",
                                 field="sp_x509cert")
    return key, cert


def _clear_oidc(row: OrgSSO) -> None:
    # Another protocol's settings, secret included, are not kept when switching.
    row.oidc_issuer = row.oidc_client_id = row.oidc_client_secret = ""


def _clear_saml(row: OrgSSO) -> None:
    row.saml_metadata_url = row.saml_idp_entity_id = row.saml_idp_sso_url = row.saml_idp_x509cert = ""
    row.saml_sp_private_key = row.saml_sp_x509cert = ""


def _save_idp(row: OrgSSO) -> OrgSSO:
    """Save ``row``; a change to how the IdP is reached switches SSO off until
    tested again, and a change of IdP forgets the old one's links to people."""
    before = OrgSSO.objects.filter(pk=row.pk).first() if row.pk else None
    changed = before is None or any(getattr(before, name) != getattr(row, name) for name in _HOW_IDP_IS_REACHED)
    another_idp = before is not None and any(getattr(before, name) != getattr(row, name) for name in _WHO_THE_IDP_IS)
    if changed:
        row.tested_at = None
        row.enabled = row.enforced = False
        row.updated_at = timezone.now()
    with transaction.atomic():
        row.save()
        if another_idp:
            SocialAccount.objects.filter(provider=str(row.public_id)).delete()
    return row


# --- On, off, required ---------------------------------------------------------------------------

def switch_on(row: OrgSSO) -> OrgSSO:
    """Members (and the sign-in page's routing) may sign in through the IdP:
    only after a test sign-in succeeded with the settings as they are."""
    row.refresh_from_db()
    if row.tested_at is None:
        raise ConfigurationError("Run “Test connection” first: single sign-on is switched on only after a test "
                                 "sign-in succeeded with the settings as they are.")
    row.enabled = True
    row.save(update_fields=["enabled"])
    return row


def switch_off(row: OrgSSO) -> OrgSSO:
    """No sign-in through the IdP; members use their passwords (so SSO is no longer required either)."""
    row.enabled = row.enforced = False
    row.save(update_fields=["enabled", "enforced"])
    return row


def require(row: OrgSSO, *, required: bool) -> OrgSSO:
    """Members must (or no longer must) sign in through the IdP; owners keep break-glass."""
    row.refresh_from_db()
    if required and not row.enabled:
        raise ConfigurationError("Switch single sign-on on before requiring it.")
    row.enforced = required
    row.save(update_fields=["enforced"])
    return row


# --- Who gets which role -------------------------------------------------------------------------

_SSO_ROLES = {value for value, _label in SSO_ROLE_CHOICES}
#: "No access" with no mapped group would refuse everyone (and used to end every membership).
_NO_ONE_GETS_IN = ("With “No access” as the default role, only people in a mapped group get in, and no group is "
                   "mapped: map a group to a role first, or no one could sign in through single sign-on.")


def save_roles(row: OrgSSO, *, default_role: str, groups_claim: str) -> OrgSSO:
    """The role a first sign-in gets when no group maps to one (or no access),
    and the claim/attribute that lists the person's groups."""
    if default_role not in _SSO_ROLES:
        raise ConfigurationError("Choose one of the roles in the list (owners are chosen in the product).",
                                 field="default_role")
    if default_role == NO_ACCESS and not row.group_roles:
        raise ConfigurationError(_NO_ONE_GETS_IN, field="default_role")
    groups_claim = groups_claim.strip()
    if not groups_claim:
        raise ConfigurationError("Name the claim or attribute that lists a person's groups, e.g. “groups”.",
                                 field="groups_claim")
    row.default_role, row.groups_claim = default_role, groups_claim
    row.save(update_fields=["default_role", "groups_claim"])
    return row


def map_group(row: OrgSSO, *, group: str, role: str) -> OrgSSO:
    """People in ``group`` get ``role`` at every sign-in (never owner)."""
    group = group.strip()
    if not group:
        raise ConfigurationError("Enter the group's name exactly as the identity provider sends it.", field="group")
    if role not in MAPPABLE_ROLES:
        raise ConfigurationError("A group gives admin, responder or viewer: owners are chosen in the product.",
                                 field="role")
    row.group_roles = {**row.group_roles, group: role}
    row.save(update_fields=["group_roles"])
    return row


def unmap_group(row: OrgSSO, *, group: str) -> OrgSSO:
    """``group`` no longer gives a role; not the last one while the default is no access."""
    remaining = {name: role for name, role in row.group_roles.items() if name != group}
    if row.default_role == NO_ACCESS and not remaining:
        raise ConfigurationError(f"{group} is the only mapped group and the default role is “No access”: choose "
                                 "another default role first, or no one could sign in through single sign-on.")
    row.group_roles = remaining
    row.save(update_fields=["group_roles"])
    return row


# --- Claimed domains -----------------------------------------------------------------------------

def claim_domain(*, org: Organization, actor: Membership, domain: str) -> ClaimedDomain:
    """Send addresses at ``domain`` to this org's identity provider.

    There is no DNS verification, so what stops an org claiming another
    company's domain (and so receiving its people's sign-ins, and creating
    accounts for them) is this: the owner claiming it must have a verified
    e-mail address at that exact domain. Public mail providers can never be
    claimed, and a domain belongs to one org only.
    """
    domain = normalized_domain(domain)
    if domain in PUBLIC_MAIL_DOMAINS:
        raise ConfigurationError(f"{domain} is a public mail provider: anyone can have an address there, so no "
                                 "organization can claim it.", field="domain")
    claimed = ClaimedDomain.objects.filter(domain=domain).first()
    if claimed is not None:
        whose = "this organization" if claimed.org_id == org.pk else "another organization"
        raise ConfigurationError(f"{domain} is already claimed by {whose}.", field="domain")
    if not EmailAddress.objects.filter(user=actor.user, verified=True, email__iendswith=f"@{domain}").exists():
        raise ConfigurationError(f"To claim {domain}, you need a verified e-mail address at {domain} on your "
                                 "account: it shows the domain is your organization's.", field="domain")
    try:
        with transaction.atomic():
            return ClaimedDomain.objects.create(org=org, domain=domain)
    except IntegrityError:  # claimed meanwhile by another org
        raise ConfigurationError(f"{domain} is already claimed by another organization.", field="domain") from None


def unclaim_domain(claimed: ClaimedDomain) -> None:
    claimed.delete()


def normalized_domain(value: str) -> str:
    """``value`` as a lowercase DNS name (an international name in its ASCII
    form), or ``ConfigurationError``."""
    value = value.strip().lower().rstrip(".")
    if value.startswith("@"):
        value = value[1:]
    try:
        ascii_name = value.encode("idna").decode() if value else ""  # the standard library's IDNA codec
    except UnicodeError:
        ascii_name = ""
    labels = ascii_name.split(".")
    if (not ascii_name or len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels)
            or labels[-1].isdigit()):
        raise ConfigurationError(f"“{value}” is not a domain name. Enter just the domain, e.g. example.com.",
                                 field="domain")
    return ascii_name
