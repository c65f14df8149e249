"""SSO pages a signed-out browser reaches (the settings pages are ``settings_views``)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods

from orgs.middleware import outside_org_session
from orgs.sso import break_glass, routing, sign_in


@outside_org_session
@require_GET
def start(request, org_slug):
    """Start the org's SSO: ``/<org_slug>/`` for a signed-out visitor, the
    sign-in page's e-mail routing and "+ Add organization" all end here.

    A GET, so that a link (and a page's meta refresh) can start it: a form's
    post redirecting to the IdP would be blocked by our CSP's ``form-action``.
    Starting changes nothing but this browser's pending state; the answer is
    bound to it (``orgs.sso.sign_in``).

    Sent here by another site (``Sec-Fetch-Site`` cross-site or same-site), the
    browser gets the hand-off page's link to click instead: a hostile page
    could otherwise start a round trip that its own IdP answers at once, and
    the victim would be signed in as the attacker (login CSRF). A typed URL,
    a bookmark and our own pages (none, same-origin, or no header) go straight on.
    """
    org_sso = routing.enabled_sso(org_slug)
    if org_sso is None:
        raise Http404("This organization does not sign in through single sign-on.")
    next_url = request.GET.get("next")
    if request.headers.get("Sec-Fetch-Site", "none") not in ("same-origin", "none"):
        return render(request, "sso/hand_off.html", {
            "sso_org": org_sso.org, "start_url": routing.start_url(org_slug, next_url), "click_to_continue": True,
        })
    return sign_in.start(request, org_sso, purpose=sign_in.PURPOSE_SIGN_IN, next_url=next_url)


class BreakGlassForm(forms.Form):
    email = forms.EmailField(label="E-mail", widget=forms.EmailInput(attrs={"autocomplete": "email"}),
                             error_messages={"required": "Enter your e-mail address."})
    password = forms.CharField(label="Password", strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
                               error_messages={"required": "Enter your password."})


@outside_org_session
@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def break_glass_request(request, org_slug):
    """An owner asks for a break-glass link (``orgs.sso.break_glass``). The
    page is the same for any slug, and answers the same whatever was wrong."""
    form = BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            break_glass.request_link(request, org_slug=org_slug, **form.cleaned_data)
        except break_glass.TooManyAttempts as exc:
            form.add_error(None, str(exc))
            return render(request, "sso/break_glass.html", {"form": form, "org_slug": org_slug}, status=429)
        return render(request, "sso/break_glass.html", {"org_slug": org_slug, "sent": True,
                                                        "link_minutes": break_glass.LINK_MINUTES})
    status = 400 if form.errors else 200
    return render(request, "sso/break_glass.html", {"form": form, "org_slug": org_slug}, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def break_glass_confirm(request, token):
    """The e-mailed link: a GET only shows the button (mail scanners follow
    links), the button's POST signs in."""
    try:
        if request.method == "POST":
            used = break_glass.confirm(request, token=token)
            messages.warning(request, f"Signed in to {used.org.name} with break-glass. The other owners were told.")
            return redirect("org_home", org_slug=used.org.slug)
        pending = break_glass.usable_link(token)
    except break_glass.LinkUnusable as exc:
        return render(request, "sso/break_glass_confirm.html", {"reason": str(exc)}, status=410)
    return render(request, "sso/break_glass_confirm.html", {"sign_in": pending})
