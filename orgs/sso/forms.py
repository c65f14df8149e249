"""The forms of Settings → Single sign-on. The rules live in ``orgs.sso.configuration``;
these only read what was typed."""

from __future__ import annotations

from django import forms

from orgs.models import Role
from orgs.sso.models import MAPPABLE_ROLE_CHOICES, SSO_ROLE_CHOICES, OrgSSO, Protocol

#: What a saved secret's field says instead of its value, which is never shown again.
SECRET_SAVED_HELP = "Saved — enter a new value to replace it."


#: A URL typed in a text box, styled as the others (the stylesheet styles no ``type=url``).
_URL_INPUT = forms.TextInput(attrs={"inputmode": "url"})


class SecretTextarea(forms.Textarea):
    """A textarea that never renders a value: not the saved secret, and not
    the one just typed when the form is refused and shown again."""

    def format_value(self, value):
        return None


class IdentityProviderForm(forms.Form):
    protocol = forms.ChoiceField(choices=Protocol.choices, widget=forms.RadioSelect, label="Protocol")

    issuer = forms.URLField(
        required=False, max_length=500, label="Issuer URL", assume_scheme="https", widget=_URL_INPUT,
        help_text="e.g. https://login.example.com/realms/acme. Its discovery document "
                  "(/.well-known/openid-configuration) is read when you save.",
    )
    client_id = forms.CharField(required=False, max_length=255, label="Client ID")
    client_secret = forms.CharField(
        required=False, label="Client secret", strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )

    metadata_url = forms.URLField(required=False, max_length=500, label="IdP metadata URL", assume_scheme="https",
                                  widget=_URL_INPUT,
                                  help_text="Read when you save. Or paste the metadata below.")
    metadata_xml = forms.CharField(required=False, label="IdP metadata XML", widget=forms.Textarea(attrs={"rows": 5}))
    sp_private_key = forms.CharField(
        required=False, label="Signing private key (optional)", widget=SecretTextarea(attrs={"rows": 4}),
        help_text="PEM, unencrypted. Only for identity providers that want signed sign-in requests.",
    )
    sp_x509cert = forms.CharField(required=False, label="Signing certificate (optional)",
                                  widget=forms.Textarea(attrs={"rows": 4}), help_text="PEM: the key's certificate.")
    remove_sp_key = forms.BooleanField(required=False, label="Stop signing requests (forget the key)")

    def __init__(self, *args, org_sso: OrgSSO | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if org_sso is not None and org_sso.oidc_client_secret:
            self.fields["client_secret"].help_text = SECRET_SAVED_HELP
        if org_sso is not None and org_sso.saml_sp_private_key:
            self.fields["sp_private_key"].help_text = SECRET_SAVED_HELP
        else:
            del self.fields["remove_sp_key"]

    def clean(self):
        data = super().clean()
        if data.get("protocol") == Protocol.OIDC:
            for name, message in (("issuer", "Enter the identity provider's issuer URL."),
                                  ("client_id", "Enter the client ID the identity provider gave this app.")):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, message)
        return data

    @staticmethod
    def initial_for(org_sso: OrgSSO | None) -> dict:
        """What the form shows for a saved configuration: never a secret."""
        if org_sso is None:
            return {"protocol": Protocol.OIDC}
        return {
            "protocol": org_sso.protocol, "issuer": org_sso.oidc_issuer, "client_id": org_sso.oidc_client_id,
            "metadata_url": org_sso.saml_metadata_url, "sp_x509cert": org_sso.saml_sp_x509cert,
        }


class RolesForm(forms.Form):
    default_role = forms.ChoiceField(choices=SSO_ROLE_CHOICES, required=False, label="Role of a new member",
                                     help_text="Given at someone's first sign-in when none of their groups maps "
                                               "to a role. With no access, only people in a mapped group get in.")
    groups_claim = forms.CharField(max_length=255, label="Groups claim or attribute",
                                   help_text="Where the identity provider lists a person's groups, e.g. “groups”.")


class GroupRoleForm(forms.Form):
    group = forms.CharField(max_length=255, label="IdP group")
    role = forms.ChoiceField(choices=MAPPABLE_ROLE_CHOICES, label="Role",
                             initial=Role.RESPONDER)


class DomainForm(forms.Form):
    domain = forms.CharField(max_length=253, label="E-mail domain",
                             help_text="e.g. example.com. You need a verified address there.")
