from __future__ import annotations

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from orgs import selectors, sessions
from orgs.views.base import OrgView


class OrgHomeView(OrgView):
    """The org's landing page: what is on fire, what is being learned from, what is mine."""

    def get(self, request, org_slug):
        from incidentio.incidents.selectors import org_overview

        members = selectors.membership_list(org=self.org)
        context = self.get_context_data(
            overview=org_overview(org=self.org, user=request.user),
            member_count=members.count(),
            recent_members=members.order_by("-created_at")[:5],
            pending_invitations=selectors.invitation_list_pending(org=self.org).count(),
            nav="home",
        )
        return render(request, "orgs/home.html", context)


@require_GET
def root(request):
    """``/``: the held org this browser used last, or sign-in when none is held."""
    landing = sessions.landing_membership(request)
    if landing is not None:
        return redirect("org_home", org_slug=landing.org.slug)
    if request.user.is_authenticated:
        # Signed in, but in no organization yet: start one.
        return redirect("organization_create")
    return redirect("account_login")
