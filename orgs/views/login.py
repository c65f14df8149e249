"""The sign-in page, e-mail first: allauth's ``LoginView`` with a routing step in front.

1. The e-mail alone ("Continue"). A domain claimed by an org with SSO on goes
   to that org's IdP (a hand-off page: a form's post may not redirect to the
   IdP under our CSP's ``form-action 'self'``); any other, to step 2.
2. The e-mail kept and the password: allauth's own form and flow, unchanged
   (``orgs.adapters.AccountAdapter.login`` then decides which orgs it binds).

A post with both fields is step 2 whatever came before, so scripts and tests
that post e-mail and password together sign in as they always did. Routing
reads the domain alone, never whether the address has an account.
"""

from __future__ import annotations

from allauth.account.views import LoginView as AllauthLoginView
from django import forms
from django.shortcuts import render

from orgs import sessions
from orgs.sso import routing

#: The page's two steps. A post naming ``PASSWORD_STEP`` ("Use a password
#: instead" on the hand-off page) skips SSO routing.
EMAIL_STEP = "email"
PASSWORD_STEP = "password"


class EmailStepForm(forms.Form):
    """Step 1: the e-mail alone, worded as the sign-in form's own field."""

    login = forms.EmailField(
        label="E-mail",
        widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}),
        error_messages={"required": "Enter your e-mail address.",
                        "invalid": "Enter an e-mail address, such as you@example.com."},
    )


class LoginView(AllauthLoginView):
    def get(self, request, *args, **kwargs):
        return self.render_step(EMAIL_STEP, form=EmailStepForm())

    def post(self, request, *args, **kwargs):
        if "password" in request.POST:
            return super().post(request, *args, **kwargs)
        email_form = EmailStepForm(request.POST)
        if not email_form.is_valid():
            return self.render_step(EMAIL_STEP, form=email_form)
        email = email_form.cleaned_data["login"]
        next_url = self.get_next_url()
        if request.POST.get("step") != PASSWORD_STEP:
            org_sso = routing.sso_for_email(email, target=sessions.sign_in_target(next_url))
            if org_sso is not None:
                return self.hand_off(org_sso, email, next_url)
        form = self.get_form_class()(request=request, initial={"login": email})
        return self.render_step(PASSWORD_STEP, form=form)

    def form_invalid(self, form):
        # A wrong password keeps the e-mail: the page stays at step 2.
        return self.render_step(PASSWORD_STEP, form=form)

    def render_step(self, step: str, *, form):
        """Step 1 (``EmailStepForm``) or step 2 (the sign-in form, e-mail read-only),
        with the SSO of the org this sign-in is for, if that org has it on."""
        if step == PASSWORD_STEP:
            form.fields["login"].widget.attrs["readonly"] = True
            form.fields["password"].widget.attrs["autofocus"] = True
        target = sessions.sign_in_target(self.get_next_url())
        target_sso = routing.enabled_sso(target)
        context = dict(
            form=form,
            step=step,
            target_sso=target_sso,
            target_sso_url=routing.start_url(target, self.get_next_url()) if target_sso else None,
            target_requires_sso=routing.requires_sso(target_sso),
            break_glass_url=routing.break_glass_url(target_sso) if routing.requires_sso(target_sso) else None,
        )
        return self.render_to_response(self.get_context_data(**context))

    def hand_off(self, org_sso, email: str, next_url: str | None):
        """The page that sends the browser on to the org's IdP (a meta refresh, and a link)."""
        target = sessions.sign_in_target(next_url)
        context = {
            "sso_org": org_sso.org,
            "email": email,
            "start_url": routing.start_url(org_sso.org.slug, next_url if target else None),
            "password_allowed": not routing.requires_sso(org_sso),
            "next_url": next_url,
        }
        return render(self.request, "sso/hand_off.html", context)


login = LoginView.as_view()
