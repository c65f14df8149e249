"""allauth hooks: signing in creates org sessions instead of replacing them."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.utils import get_next_redirect_url
from django.contrib import messages

from orgs import sessions


class AccountAdapter(DefaultAccountAdapter):
    def login(self, request, user) -> None:
        if not hasattr(user, "backend"):
            user.backend = "allauth.account.auth_backends.AuthenticationBackend"
        sessions.sign_in(request, user, backend=user.backend)
        refused = sessions.bind_after_sign_in(
            request, user=user, next_url=get_next_redirect_url(request)
        )
        if refused is not None:
            # Worded the same whether or not the org exists.
            messages.error(
                request,
                f"{user.email} has no access to an organization at /{refused}/. "
                "Sign in with an account that is a member.",
            )

    def is_open_for_signup(self, request) -> bool:
        from django.conf import settings

        return getattr(settings, "ACCOUNT_ALLOW_SIGNUP", True)
