"""Resolves the organization and the identity for every ``/<org_slug>/…`` request.

This is the one place tenancy starts for dashboard pages: any view whose URL
carries ``org_slug`` gets ``request.org``, ``request.membership`` and a
``request.user`` that is the identity this browser signed in with *for that
org*. Views never look the org up themselves.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib import messages
from django.contrib.auth import get_user
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from incidentio.common import live
from incidentio.common.links import same_site_referer
from orgs import sessions
from orgs.selectors import active_membership
from orgs.sso import routing


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


def outside_org_session(view):
    """Marks a view whose ``org_slug`` names the org to sign in *to* (SSO's
    start, break-glass), not one of the org's pages: it is for browsers without
    that org's session, so ``OrgSessionMiddleware`` leaves it alone."""
    view.outside_org_session = True
    return view


class OrgSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        org_slug = view_kwargs.get("org_slug")
        if org_slug is None or getattr(view_func, "outside_org_session", False):
            return None
        held = sessions.held_session(request, org_slug)
        if held is None:
            # The same answer whether or not the org exists, so slugs cannot be probed.
            return sign_in_first(request, org_slug)
        # Membership is re-checked on every request: a removed member loses
        # access at once. One query fetches the org, the user and the role.
        membership = active_membership(org_slug=org_slug, user_id=held.user_id)
        if membership is None:
            raise Http404("No such page.")
        if not sessions.hash_is_current(membership.user, held.auth_hash):
            # The password changed elsewhere: this browser's session for the org ends.
            sessions.unbind(request, org_slug=org_slug)
            return sign_in_first(request, org_slug)
        if membership.org.sso_required and held.via not in SSO_REQUIRED_ACCEPTS:
            # A password session of an org that requires single sign-on since:
            # it ends here, and the browser goes through the org's IdP.
            sessions.unbind(request, org_slug=org_slug)
            return sign_in_first(request, org_slug, sso_required=True)
        request.org = membership.org
        request.membership = membership
        request.user = membership.user
        if request.method == "POST" and not _posted_as(request, membership):
            return page_changed_hands(request, membership)
        sessions.note_used(request, membership)
        return None


#: The form field static/js/forms.js adds to every post: the membership the
#: page was rendered for (``<main data-viewer>``).
POSTED_AS_FIELD = "_as"


def _posted_as(request: HttpRequest, membership) -> bool:
    """Whether a post was sent from a page rendered for ``membership``. A post
    without the field (no JavaScript, the API, tests) is judged by its CSRF
    token alone, as before: without forms.js a page left open across a sign-in
    carries a stale token and is refused anyway."""
    posted = request.POST.get(POSTED_AS_FIELD)
    return posted is None or posted == str(membership.public_id)


#: The note after a form was posted from a page of the org's previous identity.
PAGE_CHANGED_HANDS_MESSAGE = (
    "Nothing was sent: this page was opened as someone else, and this browser is now signed in to {org} as {who}. "
    "Check the page and send it again if it is still yours to send."
)


def page_changed_hands(request: HttpRequest, membership) -> HttpResponse:
    """A form posted from a tab rendered for another identity of this org (it
    signed out and someone else signed in, in another tab): refused, so the
    post is never recorded under the wrong name. Back to the page it came from,
    now as the identity this browser holds; the draft stays with its author
    (static/js/forms.js keys drafts by ``data-viewer``)."""
    messages.warning(request, PAGE_CHANGED_HANDS_MESSAGE.format(org=membership.org.name, who=membership.user.email),
                     extra_tags=POST_REFUSED_TAG)
    return redirect(_page_posted_from(request, membership.org.slug))


#: The sign-in page's note after a form was posted to an org this browser is
#: no longer signed in to. Its tag marks the page for static/js/forms.js,
#: which then keeps the typed text for the form.
POST_REFUSED_MESSAGE = "Nothing was sent: this browser is no longer signed in to that organization. Sign in to go back to the page."
POST_REFUSED_TAG = "post-refused"


#: How an org session must have been signed in to use an org that requires single sign-on.
SSO_REQUIRED_ACCEPTS = (sessions.VIA_SSO, sessions.VIA_BREAK_GLASS)


def sign_in_first(request: HttpRequest, org_slug: str, *, sso_required: bool | None = None) -> HttpResponse:
    """Send the browser to sign in for ``org_slug``, and back afterwards.

    A GET comes back to the page it asked for; for an org that requires
    single sign-on (``sso_required``, looked up when not known) it goes
    straight to the org's IdP. A POST is not replayed (its URL usually
    answers POST only): it comes back to the page the form was on when that
    page is in the same org, else to the org's home, and the sign-in page
    (which offers the org's SSO) says that nothing was sent: a post redirected
    on to the IdP would break our CSP's ``form-action``. Apart from an org that
    requires SSO, the answer is the same whether or not the org exists.
    """
    if request.method in ("GET", "HEAD"):
        # Only a page being opened starts SSO: a page's own fetch() or poll
        # would start a round trip (and ask the IdP) for nobody to finish.
        if _is_navigation(request):
            if sso_required is None:
                sso_required = routing.requires_sso(routing.enabled_sso(org_slug))
            if sso_required:
                return redirect(routing.start_url(org_slug, request.get_full_path()))
        return redirect_to_login(request.get_full_path())
    page = _page_posted_from(request, org_slug)
    # A page's own fetch() gets the redirect alone: the note is for the person who sent a form.
    if _is_navigation(request):
        messages.warning(request, POST_REFUSED_MESSAGE, extra_tags=POST_REFUSED_TAG)
    return redirect_to_login(page)


def _is_navigation(request: HttpRequest) -> bool:
    """Whether the browser is opening a page (not a page's fetch() or live poll)."""
    return request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate" and not live.is_poll(request)


def _page_posted_from(request: HttpRequest, org_slug: str) -> str:
    """The path of the page a form was posted from (its Referer) when that page
    is on this host and in ``org_slug``; else the org's home."""
    back = same_site_referer(request)
    page = urlsplit(back)._replace(scheme="", netloc="").geturl() if back else ""
    if not page or sessions.org_slug_from_path(page) != org_slug:
        page = reverse("org_home", kwargs={"org_slug": org_slug})
    return page
