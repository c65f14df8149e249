"""Settings → Single sign-on is the owners' (docs/sso.md): an admin or a
responder is refused as on any settings page above their role, another org's
owner never reaches it, and nobody but an owner changes anything."""

from __future__ import annotations

import pytest
from django.test import Client

from orgs.sso.models import ClaimedDomain, OrgSSO

pytestmark = pytest.mark.django_db

PAGES = ["/acme/settings/sso/", "/acme/settings/sso/test/", "/acme/settings/sso/test/report/"]


def test_the_owner_sees_the_page_and_the_tab(acme, owner, signed_in):
    response = signed_in(owner, acme).get("/acme/settings/sso/")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/acme/settings/sso/" class="active">Single sign-on</a>' in page
    assert "Identity provider" in page and "Claimed domains" in page and "Break-glass sign-ins" in page


@pytest.mark.parametrize("who", ["admin", "responder"])
def test_admins_and_below_are_refused_and_change_nothing(request, acme, signed_in, who):
    user = request.getfixturevalue(who)
    client = signed_in(user, acme)

    for page in PAGES:
        assert client.get(page).status_code == 403, page
    posted = client.post("/acme/settings/sso/", {"action": "claim_domain", "domain": "acme.test"})

    assert posted.status_code == 403
    assert not ClaimedDomain.objects.exists() and not OrgSSO.objects.exists()
    assert "Single sign-on</a>" not in client.get("/acme/settings/").content.decode()


def test_another_orgs_owner_never_reaches_it(acme, owner, globex, outsider, signed_in):
    client = signed_in(outsider, globex)

    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), page
    client.post("/acme/settings/sso/", {"action": "claim_domain", "domain": "globex.test"})

    assert not ClaimedDomain.objects.exists()


def test_a_browser_holding_acme_for_someone_removed_gets_404(acme, owner, signed_in):
    client = signed_in(owner, acme)
    owner.memberships.all().delete()

    assert client.get("/acme/settings/sso/").status_code == 404


def test_signed_out_is_sent_to_sign_in():
    response = Client().get("/acme/settings/sso/")

    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
