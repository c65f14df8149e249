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


def from_sociallogin(org_sso: OrgSSO, sociallogin) -> Identity:
    """The identity in allauth's ``sociallogin`` (already verified by the provider)."""
    account = sociallogin.account
    if org_sso.protocol == Protocol.OIDC:
        # The ID token's claims, with the userinfo endpoint's on top (allauth fetches both).
        claims = {**account.extra_data.get("id_token", {}), **account.extra_data.get("userinfo", {})}
        given = " ".join(str(claims.get(key, "")) for key in ("given_name", "family_name")).strip()
        name = str(claims.get("name") or given)
        raw_groups = claims.get(org_sso.groups_claim, [])
    else:
        # SAML attributes: {name: [values]}; allauth mapped the e-mail and names already.
        claims = dict(account.extra_data)
        user = sociallogin.user
        name = " ".join(part for part in (getattr(user, "first_name", ""), getattr(user, "last_name", "")) if part)
        name = name or _first(claims.get("displayName")) or _first(claims.get("urn:oid:2.16.840.1.113730.3.1.241"))
        raw_groups = claims.get(org_sso.groups_claim, [])
    email = _email(sociallogin, claims)
    groups = (raw_groups,) if isinstance(raw_groups, str) else tuple(str(group) for group in raw_groups or ())
    return Identity(uid=str(account.uid), email=email, name=name or "", groups=groups, claims=claims)


def _email(sociallogin, claims: dict) -> str:
    addresses = [address.email for address in sociallogin.email_addresses if address.email]
    email = addresses[0] if addresses else (getattr(sociallogin.user, "email", "") or claims.get("email", ""))
    return str(email or "").strip().lower()


def _first(values) -> str:
    if isinstance(values, list | tuple):
        return str(values[0]) if values else ""
    return str(values or "")
