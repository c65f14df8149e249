from __future__ import annotations

from django import forms

from orgs.models import RESERVED_SLUGS, Organization, Role, slug_validator


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(max_length=100, label="Organization name")
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
    name = forms.CharField(max_length=100, label="Organization name")


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.RESPONDER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ProfileForm(forms.Form):
    name = forms.CharField(max_length=150, required=False, label="Display name")


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
