"""Who an identity provider's answer signs in, in its own org only.

The rules (docs/sso.md, "Who gets in"):

- The IdP's link to a person (``SocialAccount``: this IdP's ``uid``) decides
  first; else the asserted e-mail address, unless the IdP says it is not
  verified (then it matches no one and vouches for no domain).
- A person is let in when they are already a member of the org (an invited
  contractor), or when the address's domain is one the org claims — for a
  link as for an address: a removed member stays out. A new person is created
  only in a claimed domain.
- An existing account matched by an address it never verified may have been
  registered by someone else ahead of its owner: its password and its other
  addresses stop working.
- Never anywhere but this org: the membership returned is always ``org_sso.org``'s.
- The role: the highest role any of the person's groups maps to, else the
  org's default role, applied at every sign-in; owners keep theirs. With no
  access as the default, someone in no mapped group is refused, and their
  membership (not an owner's) ends — not when the answer listed no groups at
  all, which says nothing about them.
"""

from __future__ import annotations

from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.db import IntegrityError, transaction

from incidentio.common.errors import ServiceError
from orgs.models import ROLE_RANK, Membership, Role, User
from orgs.sso.identity import Identity
from orgs.sso.models import MAPPABLE_ROLES, NO_ACCESS, ClaimedDomain, OrgSSO


class SignInRefused(ServiceError):
    """The IdP vouched for someone this org does not let in; the message says why."""


def email_domain(email: str) -> str:
    return email.rpartition("@")[2].strip().lower()


def domain_is_claimed(org_sso: OrgSSO, email: str) -> bool:
    return ClaimedDomain.objects.filter(org=org_sso.org, domain=email_domain(email)).exists()


def role_for_groups(org_sso: OrgSSO, groups: tuple[str, ...]) -> str:
    """The highest role the groups map to, else the default role (``NO_ACCESS`` is possible)."""
    mapped = [Role(org_sso.group_roles[group]) for group in groups if org_sso.group_roles.get(group)]
    mapped = [role for role in mapped if role in MAPPABLE_ROLES]
    return max(mapped, key=ROLE_RANK.__getitem__).value if mapped else org_sso.default_role


def membership_for_identity(org_sso: OrgSSO, identity: Identity) -> Membership:
    """The membership of ``org_sso.org`` the identity signs in as, created or
    updated as the rules above say, with the IdP link recorded. Raises
    ``SignInRefused`` and changes nothing when the org does not let them in."""
    try:
        return _membership_for_identity(org_sso, identity)
    except IntegrityError:
        # Two first sign-ins of one person at once (two tabs, a double click at
        # the IdP): the other made the account, membership or link after this
        # one looked. This one's writes were rolled back; decide again on what
        # is there now.
        return _membership_for_identity(org_sso, identity)


def _membership_for_identity(org_sso: OrgSSO, identity: Identity) -> Membership:
    org = org_sso.org
    if not identity.email or "@" not in identity.email:
        raise SignInRefused("The identity provider sent no e-mail address. Ask your IdP admin to send the e-mail claim.")
    provider_key = str(org_sso.public_id)
    link = SocialAccount.objects.select_related("user").filter(provider=provider_key, uid=identity.uid).first()
    # An address the IdP says is unverified may be one the person typed in themselves.
    email_trusted = identity.email_verified is not False
    by_email = User.objects.filter(email__iexact=identity.email).first() if link is None and email_trusted else None
    user = link.user if link else by_email
    membership = Membership.objects.filter(org=org, user=user).first() if user else None
    claimed = email_trusted and domain_is_claimed(org_sso, identity.email)
    if membership is None and not claimed:
        if not email_trusted:
            raise SignInRefused(
                f"The identity provider says {identity.email} is not verified, so it cannot sign in to {org.name}. "
                "Ask your IdP admin to verify the address."
            )
        raise SignInRefused(
            f"{identity.email} is not a member of {org.name}, and {email_domain(identity.email)} is not a domain "
            f"{org.name} claims. Ask an admin of {org.name} to invite this address."
        )
    if user is not None and not user.is_active:
        raise SignInRefused(f"The account {user.email} is deactivated.")

    role = role_for_groups(org_sso, identity.groups)
    if membership is not None and membership.role == Role.OWNER:
        role = Role.OWNER
    elif membership is not None and not org_sso.group_roles and role != NO_ACCESS:
        role = membership.role  # no mapping: the role given in the product stands
    if role == NO_ACCESS:
        if not identity.groups_sent:
            # Not "in no group": the IdP did not say. Ending memberships on that would end everyone's.
            raise SignInRefused(
                f"The identity provider sent no list of groups in “{org_sso.groups_claim}”, so {org.name} cannot "
                f"tell whether {identity.email} is in a group that gives access. Ask your IdP admin to send it."
            )
        if membership is not None and org_sso.group_roles:
            membership.delete()  # removed from every mapped group at the IdP: kept even though we refuse
        raise SignInRefused(f"{identity.email} is in none of the groups that give access to {org.name}.")

    with transaction.atomic():
        if by_email is not None and membership is None and not _has_verified(by_email, identity.email):
            # Whoever set this account's password never proved the address is
            # theirs (a sign-up ahead of its owner; not a member here, where an
            # invitation would have proved it): from now on the IdP's person
            # holds the account. A new password hash also ends the sessions made
            # with the old one; the other addresses they added would reset it.
            by_email.set_unusable_password()
            by_email.save(update_fields=["password"])
            EmailAddress.objects.filter(user=by_email).exclude(email__iexact=identity.email).delete()
        if user is None:
            user = User.objects.create_user(email=identity.email, password=None, name=identity.name[:150])
        if claimed:
            # The org's IdP vouches for addresses in its own domains: no second verification e-mail.
            EmailAddress.objects.update_or_create(
                user=user, email=user.email, defaults={"verified": True, "primary": True}
            )
        if membership is None:
            membership = Membership.objects.create(org=org, user=user, role=role)
        elif membership.role != role:
            membership.role = role
            membership.save(update_fields=["role"])
        SocialAccount.objects.update_or_create(
            provider=provider_key, uid=identity.uid, defaults={"user": user, "extra_data": identity.claims}
        )
    membership.org = org
    membership.user = user
    return membership


def _has_verified(user: User, email: str) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=email, verified=True).exists()
