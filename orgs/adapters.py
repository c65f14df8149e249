"""allauth hooks: signing in creates org sessions instead of replacing them."""

from __future__ import annotations

from urllib.parse import urlencode

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import get_next_redirect_url
from allauth.core.exceptions import ImmediateHttpResponse
from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse

from orgs import sessions


class AccountAdapter(DefaultAccountAdapter):
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
        if not hasattr(user, "backend"):
            user.backend = "allauth.account.auth_backends.AuthenticationBackend"
        sessions.sign_in(request, user, backend=user.backend)
        sessions.bind_after_sign_in(request, user=user, target=target)

    def is_open_for_signup(self, request) -> bool:
        if settings.ACCOUNT_ALLOW_SIGNUP:
            return True
        # With open sign-up off, an invitation link still lets its invitee in.
        return bool(request.session.get("account_verified_email"))
