"""What an identity provider said about a person, read the same way for both protocols."""

from __future__ import annotations

from dataclasses import dataclass, field

from orgs.sso.models import OrgSSO, Protocol


@dataclass(frozen=True)
class Identity:
    #: The IdP's stable id for the person (OIDC ``sub``, SAML NameID or subject-id).
    uid: str
    email: str
    name: str = ""
    groups: tuple[str, ...] = ()
    #: Everything the IdP sent (claims or attributes), for the test report.
    claims: dict = field(default_factory=dict)
    #: What the IdP says of the address: ``False`` for OIDC's ``email_verified:
    #: false`` (the person may have typed it in themselves), ``None`` when it
    #: says nothing (SAML, and the many OIDC IdPs that omit the claim).
    email_verified: bool | None = None
    #: Whether the answer listed the person's groups (the groups claim as a list
    #: or a string). Without it nobody can tell which groups they are in.
    groups_sent: bool = True


def from_sociallogin(org_sso: OrgSSO, sociallogin) -> Identity:
    """The identity in allauth's ``sociallogin`` (already verified by the provider)."""
    account = sociallogin.account
    if org_sso.protocol == Protocol.OIDC:
        # The ID token's claims, with the userinfo endpoint's on top (allauth fetches both).
        claims = {**account.extra_data.get("id_token", {}), **account.extra_data.get("userinfo", {})}
        given = " ".join(str(claims.get(key, "")) for key in ("given_name", "family_name")).strip()
        name = str(claims.get("name") or given)
        raw_groups = claims.get(org_sso.groups_claim)
        email_verified = _stated_bool(claims.get("email_verified"))
    else:
        # SAML attributes: {name: [values]}; allauth mapped the e-mail and names already.
        claims = dict(account.extra_data)
        user = sociallogin.user
        name = " ".join(part for part in (getattr(user, "first_name", ""), getattr(user, "last_name", "")) if part)
        name = name or _first(claims.get("displayName")) or _first(claims.get("urn:oid:2.16.840.1.113730.3.1.241"))
        raw_groups = claims.get(org_sso.groups_claim)
        email_verified = None
    email = _email(sociallogin, claims)
    groups = _groups(raw_groups)
    return Identity(uid=str(account.uid), email=email, name=name or "", groups=groups or (), claims=claims,
                    email_verified=email_verified, groups_sent=groups is not None)


def _groups(raw) -> tuple[str, ...] | None:
    """The groups claim as names; ``None`` when it is absent or not a list or a
    string (``5``, ``true``, ``{}``): an IdP's odd value means no groups, not a 500."""
    if isinstance(raw, str):
        return (raw,)
    if isinstance(raw, list | tuple):
        return tuple(str(group) for group in raw)
    return None


def _stated_bool(value) -> bool | None:
    """A boolean claim as the IdP stated it; some send ``"false"`` as a string."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _email(sociallogin, claims: dict) -> str:
    addresses = [address.email for address in sociallogin.email_addresses if address.email]
    email = addresses[0] if addresses else (getattr(sociallogin.user, "email", "") or claims.get("email", ""))
    return str(email or "").strip().lower()


def _first(values) -> str:
    if isinstance(values, list | tuple):
        return str(values[0]) if values else ""
    return str(values or "")
