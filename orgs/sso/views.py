"""SSO pages a signed-out browser reaches (the settings pages are ``settings_views``)."""

from __future__ import annotations

from django.http import Http404
from django.views.decorators.http import require_GET

from orgs.middleware import outside_org_session
from orgs.sso import sign_in
from orgs.sso.models import OrgSSO


@outside_org_session
@require_GET
def start(request, org_slug):
    """Start the org's SSO: ``/<org_slug>/`` for a signed-out visitor, the
    sign-in page's e-mail routing and "+ Add organization" all end here.

    A GET, so that a link (and a page's meta refresh) can start it: a form's
    post redirecting to the IdP would be blocked by our CSP's ``form-action``.
    Starting changes nothing but this browser's pending state; the answer is
    bound to it (``orgs.sso.sign_in``).
    """
    org_sso = OrgSSO.objects.select_related("org").filter(org__slug=org_slug, enabled=True).first()
    if org_sso is None:
        raise Http404("This organization does not sign in through single sign-on.")
    return sign_in.start(request, org_sso, purpose=sign_in.PURPOSE_SIGN_IN, next_url=request.GET.get("next"))
