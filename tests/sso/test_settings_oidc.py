"""Saving an OpenID Connect identity provider (docs/sso.md): its discovery
document is read on save from a real HTTP server on loopback, and an issuer
that cannot be reached, is not OpenID Connect, or names another issuer is
refused with nothing saved. The client secret is never shown again."""

from __future__ import annotations

import json

import pytest
from django.http import HttpResponse
from django.urls import path, reverse
from django.utils import timezone

from incidentio.config import urls as project_urls
from orgs import sessions
from orgs.sso.models import OrgSSO, Protocol
from tests.form_errors import error_next_to
from tests.sso.settings_support import closed_port_url, serving
from tests.sso.signin_support import hold

pytestmark = pytest.mark.django_db

SECRET = "s3cret-Value-that-must-never-show"
WELL_KNOWN = "/.well-known/openid-configuration"


#: The project's URLs, and a stand-in for the OpenID Connect provider's callback
#: (orgs/sso/oidc/) listed *after* them: where the provider is installed, its
#: own route is the one ``reverse`` finds.
urlpatterns = [*project_urls.urlpatterns, path("accounts/oidc-stand-in/<provider_id>/login/callback/",
                                                lambda request, provider_id: HttpResponse(), name="org_oidc_callback")]


def discovery(issuer: str) -> tuple[int, str, str]:
    return 200, "application/json", json.dumps({
        "issuer": issuer, "authorization_endpoint": f"{issuer}/authorize", "token_endpoint": f"{issuer}/token",
        "jwks_uri": f"{issuer}/jwks", "userinfo_endpoint": f"{issuer}/userinfo",
    })


@pytest.fixture
def idp():
    """An issuer serving its discovery document; ``idp.routes`` may be changed."""
    routes = {}
    with serving(routes) as base:
        routes[WELL_KNOWN] = discovery(base)
        yield type("Idp", (), {"url": base, "routes": routes})


def save(client, issuer, client_id="incidentio", secret=SECRET):
    return client.post("/acme/settings/sso/", {"action": "save_idp", "protocol": "oidc", "issuer": issuer,
                                               "client_id": client_id, "client_secret": secret}, follow=True)


def test_saving_reads_the_discovery_document_and_never_shows_the_secret_again(acme, owner, signed_in, idp):
    client = signed_in(owner, acme)

    response = save(client, idp.url)

    assert response.redirect_chain == [("/acme/settings/sso/", 302)]
    row = OrgSSO.objects.get(org=acme)
    assert (row.protocol, row.oidc_issuer, row.oidc_client_id, row.oidc_client_secret) == \
        (Protocol.OIDC, idp.url, "incidentio", SECRET)
    assert (row.enabled, row.tested_at) == (False, None)
    page = response.content.decode()
    assert SECRET not in page
    assert "Saved — enter a new value to replace it." in page
    assert "Not tested with these settings yet." in page


def test_a_blank_secret_keeps_the_saved_one(acme, owner, signed_in, idp):
    client = signed_in(owner, acme)
    save(client, idp.url)

    response = save(client, idp.url, client_id="renamed", secret="")

    assert response.status_code == 200 and SECRET not in response.content.decode()
    row = OrgSSO.objects.get(org=acme)
    assert (row.oidc_client_id, row.oidc_client_secret) == ("renamed", SECRET)


def test_the_secret_is_required_the_first_time(acme, owner, signed_in, idp):
    response = save(signed_in(owner, acme), idp.url, secret="")

    assert response.status_code == 400
    assert error_next_to(response.content.decode(), "id_client_secret") == \
        "Enter the client secret the identity provider gave this app."
    assert not OrgSSO.objects.exists()


@pytest.mark.urls(__name__)
def test_the_redirect_uri_to_register_is_shown_from_site_url(settings, acme, owner, signed_in, idp):
    settings.SITE_URL = "https://incidents.example.org"
    client = signed_in(owner, acme)
    save(client, idp.url)
    key = OrgSSO.objects.get(org=acme).public_id

    page = client.get("/acme/settings/sso/").content.decode()

    callback = reverse("org_oidc_callback", kwargs={"provider_id": str(key)})
    assert f'data-testid="sso-oidc-redirect-uri">https://incidents.example.org{callback}</code>' in page
    assert 'data-copy="sso-oidc-redirect-uri"' in page
    # The SAML URLs are there too, for an owner switching protocols.
    assert f'data-testid="sso-saml-acs">https://incidents.example.org/accounts/saml/{key}/acs/</code>' in page


@pytest.mark.parametrize("case", ["unreachable", "not_json", "not_oidc", "no_userinfo", "other_issuer"])
def test_an_issuer_that_is_not_usable_is_refused_and_nothing_changes(acme, owner, signed_in, idp, case):
    client = signed_in(owner, acme)
    issuer = idp.url
    if case == "unreachable":
        issuer = closed_port_url()
    elif case == "not_json":
        idp.routes[WELL_KNOWN] = (200, "text/html", "<html>Welcome</html>")
    elif case == "not_oidc":
        idp.routes[WELL_KNOWN] = (200, "application/json", json.dumps({"issuer": idp.url}))
    elif case == "no_userinfo":  # the sign-in needs it too (orgs/sso/oidc/views.py): refused at once, not later
        document = json.loads(discovery(idp.url)[2])
        del document["userinfo_endpoint"]
        idp.routes[WELL_KNOWN] = (200, "application/json", json.dumps(document))
    else:
        idp.routes[WELL_KNOWN] = discovery("https://elsewhere.example")

    response = save(client, issuer)

    assert response.status_code == 400
    error = error_next_to(response.content.decode(), "id_issuer")
    expected = {
        "unreachable": f"Could not read {issuer}{WELL_KNOWN} (ConnectionError)",
        "not_json": f"{issuer}{WELL_KNOWN} is not an OpenID Connect discovery document",
        "not_oidc": f"{issuer}{WELL_KNOWN} is not an OpenID Connect discovery document",
        "no_userinfo": f"{issuer}{WELL_KNOWN} is not an OpenID Connect discovery document",
        "other_issuer": f"The identity provider says its issuer is https://elsewhere.example, not {issuer}.",
    }[case]
    assert expected in error
    assert SECRET not in response.content.decode()
    assert not OrgSSO.objects.exists()


def test_an_issuer_with_a_trailing_slash_is_found_and_kept_as_it_states_itself(acme, owner, signed_in, idp):
    issuer = f"{idp.url}/realms/acme/"
    idp.routes[f"/realms/acme{WELL_KNOWN}"] = discovery(issuer)

    save(signed_in(owner, acme), issuer)  # discovery at …/realms/acme/.well-known/…, not …/acme//.well-known/…

    assert OrgSSO.objects.get(org=acme).oidc_issuer == issuer


def test_changing_the_idp_switches_sso_off_until_tested_and_saving_the_same_keeps_it_on(
    acme, owner, signed_in, idp
):
    client = signed_in(owner, acme)
    save(client, idp.url)
    OrgSSO.objects.filter(org=acme).update(enabled=True, enforced=True, tested_at=timezone.now())
    hold(client, owner, acme, via=sessions.VIA_SSO)  # a password session would end now SSO is required

    save(client, idp.url, secret="")  # nothing changed
    row = OrgSSO.objects.get(org=acme)
    assert (row.enabled, row.enforced) == (True, True) and row.tested_at is not None

    response = save(client, idp.url, secret="a-new-secret")
    row.refresh_from_db()
    assert (row.enabled, row.enforced, row.tested_at) == (False, False, None)
    assert "Single sign-on is off until then." in response.content.decode()
