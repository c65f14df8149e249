"""allauth's SAML endpoints as we mount them (ahead of ``allauth.urls``).

- The ACS (``acs``): an answer that is not base64-encoded XML python3-saml
  accepts (garbled, empty, or with a DOCTYPE, which its parser forbids) would
  raise from deep inside allauth's finishing step (a 500). It is refused on
  our error page before allauth keeps it, so nothing is stored or changed.
- The finishing step (``finish``): allauth verifies the IdP's answer, then
  looks for the sign-in this browser started (the answer's ``InResponseTo``);
  when there is none it raises ``PermissionDenied``, which Django would answer
  with the generic "Not allowed" page. That is a replayed answer (each is
  accepted once), or one posted into a browser that never asked for it: say
  so, as for every other refusal (``orgs.sso.sign_in.error_page``). Nothing
  was changed by then.
- Single logout (``no_single_logout``): not offered (docs/sso.md). allauth's
  would accept an unsigned LogoutRequest and sign this browser out of every
  org: a 404 instead.
- Our SP metadata (``metadata``): allauth's, without the single-logout
  service. An IdP that imports metadata naming one sends people there when
  they sign out at the IdP, onto that 404.
- allauth's sign-in start (``login``): an IdP's "initiate login URI" (an app
  tile on the IdP's dashboard) may point at it. It goes on to our own start,
  ``orgs.sso.views.start``, which binds the answer to this browser and guards
  against a start from another site; allauth's would start a round trip that
  our sign-in then refuses.
"""

from __future__ import annotations

import logging

from allauth.socialaccount.providers.saml import views as allauth_saml
from allauth.socialaccount.providers.saml.utils import build_saml_config
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from lxml import etree
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from orgs.sso import routing, sign_in, social_apps
from orgs.sso.models import OrgSSO, Protocol

logger = logging.getLogger(__name__)

#: An answer ``readable`` refuses.
UNREADABLE = ("The identity provider's answer is not a SAML answer this site can read: it is not base64-encoded "
              "XML, or it declares a DOCTYPE, which is refused. Start again from this site's sign-in; if this "
              "keeps happening, the identity provider's setup needs fixing.")


@csrf_exempt  # posted by the IdP's page, from the IdP's origin (as allauth's own ACS)
def acs(request, organization_slug: str):
    """allauth's ``saml_acs``, for answers python3-saml can parse (``readable``)."""
    if request.method == "POST" and not readable(request.POST.get("SAMLResponse", "")):
        org_sso = social_apps.org_sso_by_key(organization_slug)
        logger.warning("SAML answer refused for %s: not base64-encoded XML", org_sso or "an unknown provider")
        return sign_in.error_page(request, org_sso, UNREADABLE, status=400)
    return allauth_saml.acs(request, organization_slug=organization_slug)


def readable(saml_response: str) -> bool:
    """Whether ``saml_response`` decodes and parses as python3-saml will
    (its own functions: base64, then its parser without DTDs or entities)."""
    try:
        OneLogin_Saml2_XML.to_etree(OneLogin_Saml2_Utils.b64decode(saml_response))
    except (ValueError, etree.XMLSyntaxError):  # binascii.Error and DTDForbidden… are ValueErrors
        return False
    return True


def finish(request, organization_slug: str):
    """allauth's ``saml_finish_acs`` (``organization_slug`` is ``OrgSSO.public_id``)."""
    try:
        return allauth_saml.finish_acs(request, organization_slug=organization_slug)
    except PermissionDenied:
        org_sso = social_apps.org_sso_by_key(organization_slug)
        logger.warning("SAML answer refused for %s: no sign-in in this browser waits for it", org_sso)
        return sign_in.error_page(request, org_sso, sign_in.NOT_STARTED_HERE, status=403)


def no_single_logout(request, organization_slug: str):
    """allauth's ``saml_sls``, not offered: see the module docstring."""
    raise Http404("This site does not offer SAML single logout.")


def metadata(request, organization_slug: str):
    """allauth's ``saml_metadata`` without ``SingleLogoutService`` (the module docstring)."""
    org_sso = _saml_sso(organization_slug)
    config = build_saml_config(request, social_apps.saml_settings(org_sso), organization_slug)
    del config["sp"]["singleLogoutService"]
    sp_only = OneLogin_Saml2_Settings(settings=config, sp_validation_only=True)
    return HttpResponse(sp_only.get_sp_metadata(), content_type="text/xml")


def login(request, organization_slug: str):
    """allauth's ``saml_login``: on to our start (the module docstring)."""
    org_sso = _saml_sso(organization_slug)
    return redirect(routing.start_url(org_sso.org.slug, request.GET.get("next")))


def _saml_sso(key: str) -> OrgSSO:
    org_sso = social_apps.org_sso_by_key(key)
    if org_sso is None or org_sso.protocol != Protocol.SAML:
        raise Http404("No organization signs in through SAML at this address.")
    return org_sso
