"""SAML IdP fixtures (tests/sso/idps/saml.py), an org set up to sign in through
one, and the round trip a browser makes, driven with the Django test client.

The service provider's URLs (ACS, entity id) are built from the request's
host, and python3-saml refuses a single-label host such as the test client's
``testserver``: ``saml_client`` is a test client for ``127.0.0.1``, the host
the browser tests' live server has too.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client

from orgs.sso import saml_metadata
from orgs.sso.models import ClaimedDomain, OrgSSO, Protocol
from orgs.sso.social_apps import sp_entity_id
from tests.sso.idps.saml import Answer, SamlIdp

#: The host the test client speaks as (a dotted one: see the module docstring).
SP_HOST = "127.0.0.1"

__all__ = ["saml_client", "saml_idp", "second_saml_idp"]


@pytest.fixture
def saml_idp():
    idp = SamlIdp("a").start()
    yield idp
    idp.stop()


@pytest.fixture
def second_saml_idp():
    """Another IdP, with its own key and URLs: another org's."""
    idp = SamlIdp("b").start()
    yield idp
    idp.stop()


@pytest.fixture
def saml_client(settings):
    """``saml_client()`` → a new browser (test client) on ``SP_HOST``."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, SP_HOST]
    return lambda: Client(HTTP_HOST=SP_HOST)


def saml_sso(org, idp: SamlIdp, *, domains: tuple[str, ...] = (), **fields) -> OrgSSO:
    """An enabled SAML ``OrgSSO`` for ``org``, from the IdP's metadata URL read as
    the settings page reads it (``saml_metadata.fetch/parse``), claiming ``domains``."""
    parsed = saml_metadata.parse(saml_metadata.fetch(idp.metadata_url))
    org_sso = OrgSSO.objects.create(
        org=org,
        protocol=Protocol.SAML,
        saml_metadata_url=idp.metadata_url,
        saml_idp_entity_id=parsed.entity_id,
        saml_idp_sso_url=parsed.sso_url,
        saml_idp_x509cert=parsed.x509cert,
        enabled=True,
        **fields,
    )
    for domain in domains:
        ClaimedDomain.objects.create(org=org, domain=domain)
    return org_sso


def sp_urls(org_sso: OrgSSO, site: str = f"http://{SP_HOST}") -> dict[str, str]:
    """The service provider's URLs for ``org_sso`` as requests to ``site`` build
    them (the test client's by default; a browser test passes ``live_server.url``).
    Its entity ID is always the one under ``SITE_URL`` (``social_apps.sp_entity_id``)."""
    base = f"{site}/accounts/saml/{org_sso.public_id}"
    return {"acs": f"{base}/acs/", "entity_id": sp_entity_id(org_sso), "metadata": f"{base}/metadata/"}


def saml_round_trip(client: Client, start_path: str, idp: SamlIdp):
    """Start at ``start_path``, let ``idp`` answer, post its answer to the ACS
    it names: the response that ends the round trip (a redirect into the org,
    or the error page)."""
    return post_answer(client, answer_from_idp(client, start_path, idp))


def answer_from_idp(client: Client, start_path: str, idp: SamlIdp) -> Answer:
    """Start a sign-in and follow it to ``idp``: the answer its page would post."""
    start = client.get(start_path)
    assert start.status_code == 302, start.content.decode()[:2000]
    assert start["Location"].startswith(idp.sso_url + "?"), start["Location"]
    return ask_idp(start["Location"])


def ask_idp(url: str) -> Answer:
    """What the IdP's auto-submit page at ``url`` (an AuthnRequest, HTTP-Redirect) posts."""
    page = requests.get(url, timeout=10)
    assert page.status_code == 200, page.text
    form = _AutoSubmitForm()
    form.feed(page.text)
    return Answer(acs_url=form.action, saml_response=form.fields["SAMLResponse"],
                  relay_state=form.fields.get("RelayState", ""))


def post_answer(client: Client, answer: Answer, *, acs_url: str | None = None):
    """Post ``answer`` as the IdP's page does (to ``acs_url`` instead of the
    ACS it names, when given), and follow allauth's hop to the finishing step."""
    data = {"SAMLResponse": answer.saml_response}
    if answer.relay_state:
        data["RelayState"] = answer.relay_state
    acs = client.post(urlsplit(acs_url or answer.acs_url).path, data)
    # allauth's ACS keeps the post in a cookie and redirects to finish on our own
    # site, so the session cookie (SameSite=Lax) comes along on a real browser.
    assert acs.status_code == 302, acs.content.decode()[:2000]
    return client.get(acs["Location"])


class _AutoSubmitForm(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action = ""
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "form":
            self.action = attributes.get("action") or ""
        elif tag == "input" and attributes.get("name"):
            self.fields[attributes["name"]] = attributes.get("value") or ""
