"""allauth hooks: signing in creates org sessions instead of replacing them."""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.adapter import DefaultAccountAdapter, get_adapter
from allauth.account.utils import get_next_redirect_url
from allauth.core.exceptions import ImmediateHttpResponse
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

from orgs import sessions
from orgs.models import Invitation
from orgs.sso import routing

# The invitation whose link this browser followed, so closed sign-up can let its
# invitee (and only its invitee) create an account.
_SIGNUP_INVITATION_KEY = "signup_invitation"


def offer_signup(request, invitation: Invitation) -> None:
    """Let whoever followed ``invitation``'s link sign up as its address.

    Holding the link proves control of the inbox it was sent to, so that address
    needs no second verification e-mail. Caller checked the invitation is pending.
    """
    request.session[_SIGNUP_INVITATION_KEY] = str(invitation.public_id)
    get_adapter(request).stash_verified_email(request, invitation.email)


def signup_invitation(request) -> Invitation | None:
    """The pending invitation this browser came through, if any: re-read each
    time, so one revoked or expired since closes sign-up again."""
    public_id = request.session.get(_SIGNUP_INVITATION_KEY)
    invitation = Invitation.objects.filter(public_id=public_id).first() if public_id else None
    return invitation if invitation is not None and invitation.is_pending else None


class AccountAdapter(DefaultAccountAdapter):
    # Our wording for the sign-in page's errors (shown at the top of the form).
    error_messages = {
        **DefaultAccountAdapter.error_messages,
        "email_password_mismatch": "That e-mail and password do not match an account. Check both and try again.",
        "too_many_login_attempts": ("Too many failed sign-ins for this e-mail or from your network. "
                                    "Wait a few minutes, then try again."),
    }

    def login(self, request, user) -> None:
        next_url = get_next_redirect_url(request)
        target = sessions.sign_in_target(next_url)
        if not sessions.may_sign_in_for(user, target):
            # Signing in for an org as a non-member changes nothing in this
            # browser, not even the account identity. Worded the same whether
            # or not the org exists.
            messages.error(
                request,
                f"{user.email} has no access to an organization at /{target}/. "
                "Sign in with an account that is a member.",
            )
            login_url = f"{reverse('account_login')}?{urlencode({'next': next_url})}"
            raise ImmediateHttpResponse(redirect(login_url))
        # A password signs in to no org that requires single sign-on; refused,
        # it changes nothing here either (orgs/sso/routing.py).
        if target is not None:
            org_sso = routing.enabled_sso(target)
            if routing.requires_sso(org_sso):
                messages.error(request, routing.password_refused_message(org_sso, user))
                login_url = f"{reverse('account_login')}?{urlencode({'next': next_url})}"
                raise ImmediateHttpResponse(redirect(login_url))
            skip = set()
        else:
            required = routing.orgs_requiring_sso(user)
            skip = {row.org.slug for row in required}
            if required and not sessions.has_membership_outside(user, skip):
                messages.error(request, routing.all_orgs_refused_message(required))
                raise ImmediateHttpResponse(redirect("account_login"))
        if not hasattr(user, "backend"):
            user.backend = sessions.SIGN_IN_BACKEND
        sessions.sign_in(request, user, backend=user.backend)
        sessions.bind_after_sign_in(request, user=user, target=target, skip=skip)

    def is_open_for_signup(self, request) -> bool:
        if settings.ACCOUNT_ALLOW_SIGNUP:
            return True
        # With open sign-up off, an invitation link still lets its invitee in;
        # orgs.forms.SignupForm refuses any other address.
        return signup_invitation(request) is not None

    def is_email_verified(self, request, email: str) -> bool:
        # allauth trusts the stashed address for as long as the session keeps
        # it; trust it only while its invitation is still pending.
        invitation = signup_invitation(request)
        return invitation is not None and invitation.email.lower() == email.lower()
