from __future__ import annotations

from allauth.account.forms import LoginForm as AllauthLoginForm
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.core import context
from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from incidentio.common import limits
from orgs.adapters import signup_invitation
from orgs.calendar import WEEKDAY_NAMES
from orgs.models import RESERVED_SLUGS, Organization, Role, slug_validator, validate_single_line


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(max_length=limits.ORG_NAME, label="Organization name", validators=[validate_single_line])
    slug = forms.CharField(
        max_length=50,
        label="URL",
        validators=[slug_validator],
        help_text="Lowercase letters, digits and hyphens. Your dashboard lives at /<url>/.",
    )

    def clean_slug(self):
        slug = self.cleaned_data["slug"].strip().lower()
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"“{slug}” is reserved; choose another URL.")
        if Organization.objects.filter(slug=slug).exists():
            raise forms.ValidationError(f"The URL /{slug}/ is taken; choose another.")
        return slug


class OrganizationRenameForm(forms.Form):
    name = forms.CharField(max_length=limits.ORG_NAME, label="Organization name", validators=[validate_single_line])


class WorkingCalendarForm(forms.Form):
    # A free choice field: the service names a bad time zone (and changes nothing).
    time_zone = forms.CharField(max_length=64, label="Time zone")
    working_days = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)), coerce=int, widget=forms.CheckboxSelectMultiple,
        label="Working days", error_messages={"required": "Choose at least one working day."},
    )


class HolidayForm(forms.Form):
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(max_length=100, required=False, validators=[validate_single_line],
                           help_text="e.g. New Year's Day.")


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.RESPONDER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=limits.USER_NAME, required=False, label="Display name", validators=[validate_single_line])


class TimeZonePreferenceForm(forms.Form):
    # A free choice field: the service names a bad time zone (and changes nothing).
    time_zone = forms.CharField(max_length=64, required=False, label="Time zone")


class AddOrganizationForm(forms.Form):
    slug = forms.CharField(
        max_length=50,
        label="Organization URL",
        help_text="The part after the slash, e.g. “acme” for /acme/.",
    )

    def clean_slug(self):
        # Deliberately no existence check: the sign-in page must not reveal slugs.
        slug = self.cleaned_data["slug"].strip().strip("/").lower()
        slug_validator(slug)
        return slug

    @staticmethod
    def valid_slug(value: str) -> str | None:
        """``value`` as a slug if it is one (a page started for an org), else None."""
        slug = value.strip().strip("/").lower()
        try:
            slug_validator(slug)
        except ValidationError:
            return None
        return slug or None


class LoginForm(AllauthLoginForm):
    """allauth's sign-in form in our words: labels rather than placeholders, and
    the "Forgot your password?" link on the page (account/login.html) rather
    than in the password's help text."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        login = self.fields["login"]
        login.label = "E-mail"
        login.widget.attrs.pop("placeholder", None)
        login.widget.attrs["autocomplete"] = "email"
        login.error_messages["required"] = "Enter your e-mail address."
        login.error_messages["invalid"] = "Enter an e-mail address, such as you@example.com."
        password = self.fields["password"]
        password.help_text = ""
        password.widget.attrs.pop("placeholder", None)
        password.error_messages["required"] = "Enter your password."


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form; with open sign-up off, for the invited address only.

    The adapter opens closed sign-up to a browser that followed a pending
    invitation; this form keeps that opening to the one address the link was
    sent to (prefilled and read-only) and refuses any other.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = context.request
        self.invitation = (
            signup_invitation(request) if request is not None and not settings.ACCOUNT_ALLOW_SIGNUP else None
        )
        if self.invitation is not None:
            self.fields["email"].initial = self.invitation.email
            self.fields["email"].widget.attrs["readonly"] = True

    def clean_email(self):
        if self.invitation is not None:
            email = self.cleaned_data["email"]
            if email.lower() != self.invitation.email.lower():
                raise forms.ValidationError(
                    f"Sign-up is by invitation only: this invitation is for {self.invitation.email}."
                )
        return super().clean_email()
