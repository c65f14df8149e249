"""The invitation link: sign up or sign in, then join."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from incidentio.common.text import full_stop
from orgs import selectors, services, sessions
from orgs.adapters import offer_signup


@require_http_methods(["GET", "POST"])
def invitation(request, token):
    invitation = selectors.invitation_by_token(token=token)
    problem = services.invitation_problem(invitation)
    here = reverse("invitation", kwargs={"token": token})
    context = {
        "invitation": invitation,
        "problem": problem,
        "login_url": f"{reverse('account_login')}?{urlencode({'next': here})}",
        "signup_url": f"{reverse('account_signup')}?{urlencode({'next': here})}",
    }
    if problem:
        return render(request, "orgs/invitation.html", context, status=410)

    user = request.user if request.user.is_authenticated else None
    if user is None:
        offer_signup(request, invitation)
    context["user_matches"] = user is not None and user.email.lower() == invitation.email.lower()

    if request.method == "POST":
        if user is None:
            return redirect(context["login_url"])
        try:
            membership = services.invitation_accept(invitation=invitation, user=user)
        except services.ServiceError as exc:
            context["problem"] = str(exc)
            return render(request, "orgs/invitation.html", context, status=400)
        sessions.bind(request, org_slug=membership.org.slug, user=user)
        messages.success(request, f"Welcome to {full_stop(membership.org.name)}")
        return redirect("org_home", org_slug=membership.org.slug)
    return render(request, "orgs/invitation.html", context)
