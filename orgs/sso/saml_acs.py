"""allauth's SAML ACS finishing step, with one refusal on our error page.

allauth verifies the IdP's answer, then looks for the sign-in this browser
started (the answer's ``InResponseTo``); when there is none it raises
``PermissionDenied``, which Django would answer with the generic "Not
allowed" page. That is a replayed answer (each is accepted once), or one
posted into a browser that never asked for it: say so, as for every other
refusal (``orgs.sso.sign_in.error_page``). Nothing was changed by then.
"""

from __future__ import annotations

import logging
import uuid

from allauth.socialaccount.providers.saml import views as allauth_saml
from django.core.exceptions import PermissionDenied

from orgs.sso import sign_in
from orgs.sso.models import OrgSSO

logger = logging.getLogger(__name__)


def finish(request, organization_slug: str):
    """allauth's ``saml_finish_acs`` (``organization_slug`` is ``OrgSSO.public_id``)."""
    try:
        return allauth_saml.finish_acs(request, organization_slug=organization_slug)
    except PermissionDenied:
        org_sso = _org_sso(organization_slug)
        logger.warning("SAML answer refused for %s: no sign-in in this browser waits for it", org_sso)
        return sign_in.error_page(request, org_sso, sign_in.NOT_STARTED_HERE, status=403)


def _org_sso(public_id: str) -> OrgSSO | None:
    try:
        key = uuid.UUID(public_id)
    except ValueError:
        return None
    return OrgSSO.objects.select_related("org").filter(public_id=key).first()
