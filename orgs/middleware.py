"""Resolves the organization and the identity for every ``/<org_slug>/…`` request.

This is the one place tenancy starts for dashboard pages: any view whose URL
carries ``org_slug`` gets ``request.org``, ``request.membership`` and a
``request.user`` that is the identity this browser signed in with *for that
org*. Views never look the org up themselves.
"""

from __future__ import annotations

from django.contrib.auth import get_user
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.utils.functional import SimpleLazyObject

from orgs import sessions
from orgs.selectors import active_membership


class AccountIdentityMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, minus one hazard of multi-org sessions.

    When the account identity's password changed in another browser, Django
    flushes the whole session on first access to ``request.user`` — which
    would also drop the org sessions held here for *other* people. This keeps
    those; the lapsed identity's own org sessions fail their hash check anyway.
    """

    def process_request(self, request):
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: self._account_user(request))

    @staticmethod
    def _account_user(request):
        held = dict(request.session.get(sessions.ORG_SESSIONS_KEY) or {})
        user = get_user(request)
        sessions.restore_after_lapse(request, held)
        return user


class OrgSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        org_slug = view_kwargs.get("org_slug")
        if org_slug is None:
            return None
        held = sessions.held_session(request, org_slug)
        if held is None:
            # The same answer whether or not the org exists, so slugs cannot be probed.
            return redirect_to_login(request.get_full_path())
        # Membership is re-checked on every request: a removed member loses
        # access at once. One query fetches the org, the user and the role.
        membership = active_membership(org_slug=org_slug, user_id=held.user_id)
        if membership is None:
            raise Http404("No such page.")
        if not sessions.hash_is_current(membership.user, held.auth_hash):
            # The password changed elsewhere: this browser's session for the org ends.
            sessions.unbind(request, org_slug=org_slug)
            return redirect_to_login(request.get_full_path())
        request.org = membership.org
        request.membership = membership
        request.user = membership.user
        sessions.note_used(request, membership)
        return None
